import { MEASURES, type MeasureId } from './measures.js';

/** Dimensions a report can be grouped by. */
export const DIMENSIONS = [
  'day',
  'week',
  'month',
  'weekday',
  'provider',
  'service',
  'consumer',
  'disposition',
  'outcome',
  'errorCode',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The dimensions every report takes; `outcome` and `errorCode` belong to booking failures. */
const COMMON: Dimension[] = [
  'day',
  'week',
  'month',
  'weekday',
  'provider',
  'service',
  'consumer',
  'disposition',
];

export interface ReportDefinition {
  id: string;
  version: string;
  title: string;
  /** The measures, by their id in MEASURES, in the order answers show them. */
  measures: MeasureId[];
  /** A rate: numerator / denominator (null when the denominator is 0). */
  rate?: { numerator: MeasureId; denominator: MeasureId };
  groupBy: Dimension[];
  /** Dimensions always grouped by (the counting rule is per them). */
  alwaysGroupBy?: Dimension[];
}

/** The national booking metrics (reports.md, "National metrics"), as defined there. */
export const REPORTS: ReportDefinition[] = [
  { id: 'rep-prov-01', version: '1', title: 'Appointments booked', measures: ['bookings'], groupBy: COMMON },
  {
    id: 'rep-cons-01',
    version: '1',
    title: 'Booked vs successful referrals (booking utilisation)',
    measures: ['bookings', 'referrals'],
    rate: { numerator: 'bookings', denominator: 'referrals' },
    groupBy: COMMON,
  },
  {
    id: 'rep-prov-02',
    version: '1',
    title: 'Booked vs referrals (provider view)',
    measures: ['bookings', 'referrals'],
    rate: { numerator: 'bookings', denominator: 'referrals' },
    groupBy: COMMON,
    alwaysGroupBy: ['provider', 'service'],
  },
  {
    id: 'rep-prov-03',
    version: '1',
    title: 'Booked vs slots made available',
    measures: ['bookings', 'slotsOffered'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-10',
    version: '1',
    title: 'Booked vs available slots that would not breach, per disposition',
    measures: ['bookings', 'slotsWithinDeadline'],
    groupBy: COMMON,
    alwaysGroupBy: ['disposition'],
  },
  {
    id: 'rep-cons-11',
    version: '1',
    title: 'Booked vs available slots that would breach, per disposition',
    measures: ['bookings', 'slotsBeyondDeadline'],
    groupBy: COMMON,
    alwaysGroupBy: ['disposition'],
  },
  {
    id: 'rep-prov-04',
    version: '1',
    title: 'Not booked vs referrals',
    measures: ['referralsNotBooked', 'referrals'],
    rate: { numerator: 'referralsNotBooked', denominator: 'referrals' },
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-02',
    version: '1',
    title: 'Not booked, no slots presented, referral made',
    measures: ['referralsNotBookedNoSlots', 'noSearch'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-03',
    version: '1',
    title: 'Not booked, slots presented, referral made',
    measures: ['referralsNotBookedSlotsOffered'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-12',
    version: '1',
    title: 'Not booked, slots presented but all would breach, referral made',
    measures: ['referralsNotBookedAllBreach'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-04',
    version: '1',
    title: 'Booking failed because the slot was no longer available',
    measures: ['slotUnavailable'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-05',
    version: '1',
    title: 'User rejected the top directory entry although it was bookable',
    measures: ['topBookableRejected', 'selections'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-06',
    version: '1',
    title: 'Tried to book and got an error',
    measures: ['failedAttempts'],
    groupBy: [...COMMON, 'outcome', 'errorCode'],
    alwaysGroupBy: ['outcome', 'errorCode'],
  },
  {
    id: 'rep-cons-07',
    version: '1',
    title: 'Booked then cancelled in the same encounter',
    measures: ['cancelledSameEncounter'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-08',
    version: '1',
    title: 'Booked then re-booked',
    measures: ['rebookings'],
    groupBy: COMMON,
  },
  {
    id: 'rep-cons-09',
    version: '1',
    title: 'Booked then cancelled later',
    measures: ['cancelledLater'],
    groupBy: COMMON,
  },
  { id: 'rep-prov-05', version: '1', title: 'Cancellations', measures: ['cancellations'], groupBy: COMMON },
];

export function reportById(id: string): ReportDefinition | undefined {
  return REPORTS.find((report) => report.id === id);
}

/** A measure's name in a report's answers (two measures of one report never share a name). */
export function measureName(id: MeasureId): string {
  return MEASURES[id].name;
}
