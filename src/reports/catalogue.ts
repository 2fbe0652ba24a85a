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
  'region',
  'outcome',
  'errorCode',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The dimensions every report takes; `outcome` and `errorCode` belong to booking failures. */
const COMMON: Dimension[] = DIMENSIONS.filter((d) => d !== 'outcome' && d !== 'errorCode');

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
  /** Figures added per region from configuration: inhabitants and bookings per 1000, or services connected. */
  perRegion?: 'population' | 'connected';
}

/** A report of version 1, groupable by the common dimensions. */
function report(
  id: string,
  title: string,
  measures: MeasureId[],
  more: Partial<Pick<ReportDefinition, 'rate' | 'groupBy' | 'alwaysGroupBy' | 'perRegion'>> = {},
): ReportDefinition {
  return { id, version: '1', title, measures, groupBy: COMMON, ...more };
}

/** A rate of the first measure over the second. */
const rateOf = (numerator: MeasureId, denominator: MeasureId) => ({ rate: { numerator, denominator } });

/** The national booking metrics (reports.md, "National metrics"), as defined there. */
export const REPORTS: ReportDefinition[] = [
  report('rep-prov-01', 'Appointments booked', ['bookings']),
  report('rep-cons-01', 'Booked vs successful referrals (booking utilisation)', ['bookings', 'referrals'], {
    ...rateOf('bookings', 'referrals'),
  }),
  report('rep-prov-02', 'Booked vs referrals (provider view)', ['bookings', 'referrals'], {
    ...rateOf('bookings', 'referrals'),
    alwaysGroupBy: ['provider', 'service'],
  }),
  report('rep-prov-03', 'Booked vs slots made available', ['bookings', 'slotsOffered']),
  report(
    'rep-cons-10',
    'Booked vs available slots that would not breach, per disposition',
    ['bookings', 'slotsWithinDeadline'],
    { alwaysGroupBy: ['disposition'] },
  ),
  report(
    'rep-cons-11',
    'Booked vs available slots that would breach, per disposition',
    ['bookings', 'slotsBeyondDeadline'],
    { alwaysGroupBy: ['disposition'] },
  ),
  report('rep-prov-04', 'Not booked vs referrals', ['referralsNotBooked', 'referrals'], {
    ...rateOf('referralsNotBooked', 'referrals'),
  }),
  report('rep-cons-02', 'Not booked, no slots presented, referral made', [
    'referralsNotBookedNoSlots',
    'noSearch',
  ]),
  report('rep-cons-03', 'Not booked, slots presented, referral made', ['referralsNotBookedSlotsOffered']),
  report('rep-cons-12', 'Not booked, slots presented but all would breach, referral made', [
    'referralsNotBookedAllBreach',
  ]),
  report('rep-cons-04', 'Booking failed because the slot was no longer available', ['slotUnavailable']),
  report('rep-cons-05', 'User rejected the top directory entry although it was bookable', [
    'topBookableRejected',
    'selections',
  ]),
  report('rep-cons-06', 'Tried to book and got an error', ['failedAttempts'], {
    groupBy: [...COMMON, 'outcome', 'errorCode'],
    alwaysGroupBy: ['outcome', 'errorCode'],
  }),
  report('rep-cons-07', 'Booked then cancelled in the same encounter', ['cancelledSameEncounter']),
  report('rep-cons-08', 'Booked then re-booked', ['rebookings']),
  report('rep-cons-09', 'Booked then cancelled later', ['cancelledLater']),
  report('rep-prov-05', 'Cancellations', ['cancellations']),
];

/** The operational statistics (reports.md) answered so far. */
export const OPERATIONAL: ReportDefinition[] = [
  report('bookings-per-1000', 'Bookings per region and per 1000 inhabitants', ['bookings'], {
    alwaysGroupBy: ['region'],
    perRegion: 'population',
  }),
  report(
    'units-connected-vs-active',
    'Services connected vs services with a booking (and with a search) in the period, per region',
    ['servicesBooked', 'servicesSearched'],
    { alwaysGroupBy: ['region'], perRegion: 'connected' },
  ),
];

/** Every report answered. */
export const ALL_REPORTS: ReportDefinition[] = [...REPORTS, ...OPERATIONAL];

export function reportById(id: string): ReportDefinition | undefined {
  return ALL_REPORTS.find((report) => report.id === id);
}

/** A measure's name in a report's answers (two measures of one report never share a name). */
export function measureName(id: MeasureId): string {
  return MEASURES[id].name;
}
