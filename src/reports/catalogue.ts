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
  'practice',
  'outcome',
  'errorCode',
  'activity',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/**
 * The dimensions every report takes; `outcome` and `errorCode` belong to booking failures, `activity`
 * to the reports that count more than one kind of interaction.
 */
const COMMON: Dimension[] = DIMENSIONS.filter(
  (d) => d !== 'outcome' && d !== 'errorCode' && d !== 'activity',
);
const WITH_ACTIVITY: Dimension[] = [...COMMON, 'activity'];

/** A ratio shown beside the counts: numerator / denominator, null when the denominator is 0. */
export interface Rate {
  /** Its name in answers (`rate` for the national metrics' rates). */
  name: string;
  numerator: MeasureId;
  denominator: MeasureId;
  /** The denominator is the measure's total over every cell (a share of the whole), not the cell's own. */
  ofTotal?: boolean;
}

export interface ReportDefinition {
  id: string;
  version: string;
  title: string;
  /** The measures, by their id in MEASURES, in the order answers show them. */
  measures: MeasureId[];
  /** Ratios shown beside the counts. */
  rates?: Rate[];
  /** Measures bound by an exact sum: small-number suppression withholds them together. */
  linked?: MeasureId[][];
  groupBy: Dimension[];
  /** Dimensions always grouped by (the counting rule is per them). */
  alwaysGroupBy?: Dimension[];
  /** Figures added per region from configuration: inhabitants and bookings per 1000, or services connected. */
  perRegion?: 'population' | 'connected';
  /** Figures added per weekday: how many such days the period has, and the events per such day. */
  perWeekday?: boolean;
  /** Figures added per cell: the p50 / p95 / p99 upstream latency of the exchanges counted. */
  latency?: boolean;
}

/** The figures an answer shows beside its measures, in order (CSV columns, MeasureReport groups). */
export function figuresOf(report: ReportDefinition): string[] {
  return [
    ...(report.rates ?? []).map((r) => r.name),
    ...(report.perRegion === 'population' ? ['population', 'per1000'] : []),
    ...(report.perRegion === 'connected' ? ['servicesConnected'] : []),
    ...(report.perWeekday ? ['weekdays', 'perDay'] : []),
    ...(report.latency ? LATENCY_FIGURES : []),
  ];
}

export const LATENCY_FIGURES = ['p50Ms', 'p95Ms', 'p99Ms'];

/** A report of version 1, groupable by the common dimensions. */
function report(
  id: string,
  title: string,
  measures: MeasureId[],
  more: Partial<
    Pick<
      ReportDefinition,
      'rates' | 'linked' | 'groupBy' | 'alwaysGroupBy' | 'perRegion' | 'perWeekday' | 'latency'
    >
  > = {},
): ReportDefinition {
  return { id, version: '1', title, measures, groupBy: COMMON, ...more };
}

/** A rate of the first measure over the second. */
const rateOf = (numerator: MeasureId, denominator: MeasureId) => ({
  rates: [{ name: 'rate', numerator, denominator }],
});

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

/** The operational statistics (reports.md, "Operational statistics"). */
export const OPERATIONAL: ReportDefinition[] = [
  report(
    'activity-by-month',
    'Activity per month: attempts and successes of each kind of interaction',
    ['attempts', 'successes'],
    { groupBy: WITH_ACTIVITY, alwaysGroupBy: ['month', 'activity'] },
  ),
  report(
    'activity-by-weekday',
    'Activity per weekday: events on that weekday per such weekday in the period',
    ['attempts'],
    { groupBy: WITH_ACTIVITY, alwaysGroupBy: ['weekday'], perWeekday: true },
  ),
  report('activity-share', "Each activity's share of all events", ['attempts'], {
    groupBy: WITH_ACTIVITY,
    alwaysGroupBy: ['activity'],
    rates: [{ name: 'share', numerator: 'attempts', denominator: 'attempts', ofTotal: true }],
  }),
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
  report(
    'activity-by-organisation',
    'Activity per region, provider and service: attempts and successes of each kind of interaction',
    ['attempts', 'successes'],
    { groupBy: WITH_ACTIVITY, alwaysGroupBy: ['region', 'provider', 'service', 'activity'] },
  ),
];

/** What no national statistic shows: how providers answer (reports.md, "Provider conformance"). */
export const PROVIDER: ReportDefinition[] = [
  report(
    'provider-conformance',
    'Per provider: the share of responses that follow the standard, and of each error class',
    [
      'exchanges',
      'responses',
      'conforming',
      'wrongStatus',
      'missingOperationOutcome',
      'missingLocation',
      'instantsWithoutOffset',
      'notSearchset',
      'clientErrors',
      'serverErrors',
      'transportErrors',
    ],
    {
      groupBy: WITH_ACTIVITY,
      alwaysGroupBy: ['provider'],
      // Every exchange was answered or not: exchanges = responses + transport errors.
      linked: [['exchanges', 'responses', 'transportErrors']],
      rates: [
        { name: 'conformingShare', numerator: 'conforming', denominator: 'responses' },
        { name: 'clientErrorShare', numerator: 'clientErrors', denominator: 'exchanges' },
        { name: 'serverErrorShare', numerator: 'serverErrors', denominator: 'exchanges' },
        { name: 'transportErrorShare', numerator: 'transportErrors', denominator: 'exchanges' },
      ],
    },
  ),
  report(
    'provider-latency',
    'Per provider and interaction: p50 / p95 / p99 upstream latency and error rate',
    ['exchanges', 'errors'],
    {
      groupBy: WITH_ACTIVITY,
      alwaysGroupBy: ['provider', 'activity'],
      rates: [{ name: 'errorRate', numerator: 'errors', denominator: 'exchanges' }],
      latency: true,
    },
  ),
];

/** Every report answered. */
export const ALL_REPORTS: ReportDefinition[] = [...REPORTS, ...OPERATIONAL, ...PROVIDER];

export function reportById(id: string): ReportDefinition | undefined {
  return ALL_REPORTS.find((report) => report.id === id);
}

/** A measure's name in a report's answers (two measures of one report never share a name). */
export function measureName(id: MeasureId): string {
  return MEASURES[id].name;
}
