import type { Dialect } from '../config/config.types.js';

/** A clinician's diary within a service. */
export interface SandboxSchedule {
  id: string;
  practitionerId: string;
  practitionerName: { family: string; given: string; prefix: string };
  roleCode: string;
  roleDisplay: string;
}

/** A bookable service (an ED, a UTC, a GP practice), identified by its Directory of Services id. */
export interface SandboxService {
  id: string;
  dialect: Dialect;
  kind: 'emergency-department' | 'urgent-treatment-centre' | 'gp-practice';
  name: string;
  odsCode: string;
  locationId: string;
  locationName: string;
  openHours: [number, number];
  schedules: SandboxSchedule[];
}

const gp = (id: string, family: string, given: string): SandboxSchedule => ({
  id: `sched-${id}`,
  practitionerId: `prac-${id}`,
  practitionerName: { family, given, prefix: 'Dr' },
  roleCode: 'R0260',
  roleDisplay: 'General Medical Practitioner',
});
const nurse = (id: string, family: string, given: string): SandboxSchedule => ({
  id: `sched-${id}`,
  practitionerId: `prac-${id}`,
  practitionerName: { family, given, prefix: 'Ms' },
  roleCode: 'R0690',
  roleDisplay: 'Staff Nurse',
});

/**
 * The services the sandbox runs, per dialect. DoS ids are 10 digits like real ones; names are invented.
 * Slot lengths and pre-booked slots vary with the seed, the services themselves do not, so tests and
 * demos can name them.
 */
export const SANDBOX_SERVICES: readonly SandboxService[] = [
  {
    id: '2000011147',
    dialect: 'stu3',
    kind: 'emergency-department',
    name: 'Northgate General Emergency Department',
    odsCode: 'RX1',
    locationId: 'loc-2000011147',
    locationName: 'Northgate General Hospital, main entrance',
    openHours: [8, 24],
    schedules: [gp('ed-n-1', 'Okafor', 'Ada'), gp('ed-n-2', 'Lindqvist', 'Erik')],
  },
  {
    id: '2000011148',
    dialect: 'stu3',
    kind: 'urgent-treatment-centre',
    name: 'Northgate Urgent Treatment Centre',
    odsCode: 'RX1',
    locationId: 'loc-2000011148',
    locationName: 'Northgate Health Campus, block B',
    openHours: [8, 22],
    schedules: [nurse('utc-n-1', 'Patel', 'Priya')],
  },
  {
    id: '2000072489',
    dialect: 'bars',
    kind: 'urgent-treatment-centre',
    name: 'Eastbrook Urgent Treatment Centre',
    odsCode: 'RY2',
    locationId: 'loc-2000072489',
    locationName: 'Eastbrook Community Hospital',
    openHours: [8, 22],
    schedules: [nurse('utc-e-1', 'Nowak', 'Zofia'), gp('utc-e-2', 'Mensah', 'Kofi')],
  },
  {
    id: '2000072490',
    dialect: 'bars',
    kind: 'emergency-department',
    name: 'Eastbrook Emergency Department',
    odsCode: 'RY2',
    locationId: 'loc-2000072490',
    locationName: 'Eastbrook Royal Infirmary',
    openHours: [8, 24],
    schedules: [gp('ed-e-1', 'Byrne', 'Siobhan')],
  },
  {
    id: '2000099001',
    dialect: 'gpconnect',
    kind: 'gp-practice',
    name: 'Riverside Surgery',
    odsCode: 'A81001',
    locationId: 'loc-2000099001',
    locationName: 'Riverside Surgery, 1 Mill Lane',
    openHours: [8, 18],
    schedules: [gp('gp-r-1', 'Hughes', 'Gareth'), nurse('gp-r-2', 'Adeyemi', 'Tola')],
  },
];
