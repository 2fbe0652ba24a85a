/** The three booking dialects the collector understands (see shared/domain/booking-standards.md). */
export type Dialect = 'stu3' | 'bars' | 'gpconnect';

export const ROLES = ['ingest', 'report', 'inspect', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ProviderConfig {
  id: string;
  name: string;
  baseUrl: string;
  dialect: Dialect;
  odsCode?: string;
  region?: string;
  dosServiceIds: string[];
  timeouts: { connectMs: number; responseMs: number };
  /** Store request and response bodies unredacted for this provider (explicit opt-in). */
  captureFullBodies: boolean;
}

export interface TokenConfig {
  name: string;
  token: string;
  roles: Role[];
}

export interface RedactionConfig {
  /** Keep the year of birth dates (the rest is removed). */
  birthDateAsYear: boolean;
  /** Largest body kept per request or response; the rest is cut and flagged as truncated. */
  maxBodyBytes: number;
}

export interface TablesConfig {
  dispositions?: string;
  bankHolidays?: string;
  population?: string;
}

/** How episodes (one 111 case) and encounters (one call) are stitched (reports.md, terms). */
export interface EpisodesConfig {
  /** Events for the same patient (keyed NHS number hash) this close join one episode. */
  windowMinutes: number;
  /** Events for the same patient without a call key this close form one encounter. */
  encounterWindowMinutes: number;
  /** An episode this large (a correlation key reused for everything) is joined but no longer resolved. */
  maxEvents: number;
}

/** How reports are kept fast. */
export interface ReportsConfig {
  /** How often the roll-ups of changed and new days are built (0: never; reports count from events). */
  rollupIntervalSeconds: number;
}

/** How long captured evidence is kept (events, episodes and reports are kept regardless). */
export interface RetentionConfig {
  /** Exchanges received this many days ago or earlier are deleted (0: kept forever). */
  exchangeDays: number;
  /** Access audit rows this many days old are deleted (0: kept forever); always longer than exchanges. */
  auditDays: number;
  /** How often the retention job runs (0: never). */
  intervalMinutes: number;
}

/** The ingest API's limits (POST /api/events). */
export interface IngestConfig {
  /** Events in one batch at most (more: 413). */
  maxBatch: number;
  /** Bytes in one request body at most (more: 413). */
  maxBodyBytes: number;
  /** An event that arrives this long after it happened is taken, flagged late. */
  lateAfterMinutes: number;
  /** An event this far ahead of the collector's clock is refused. */
  maxFutureSeconds: number;
  /** Requests per token: a bucket of `burst`, refilled at `perSecond` (more: 429 with Retry-After). */
  rateLimit: { perSecond: number; burst: number };
}

/** One configured fault of the sandbox provider (see README, fault injection). */
export interface SandboxFaultConfig {
  dialect?: Dialect;
  interaction?:
    | 'capability'
    | 'slot-search'
    | 'book'
    | 'cancel'
    | 'update'
    | 'read'
    | 'list'
    | 'referral'
    | 'patient-search';
  probability: number;
  fault: string;
}

/** The Slot Provider simulator. */
export interface SandboxConfig {
  /** Mount it in the collector at /sandbox: `auto` does so when no providers are configured. */
  mount: 'auto' | boolean;
  seed: number;
  days: number;
  prebookedShare: number;
  stu3SlotConflictStatus: 409 | 422;
  faults: SandboxFaultConfig[];
}

/** The whole configuration: one frozen object built once at start-up by `loadConfig`. */
export interface Config {
  port: number;
  host: string;
  /** PostgreSQL connection string; absent means the embedded PGlite store under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  timezone: string;
  providers: ProviderConfig[];
  tokens: TokenConfig[];
  redaction: RedactionConfig;
  /** Secret for the keyed hash of NHS numbers; generated under `dataDir` when absent. */
  hashSecret?: string;
  tables: TablesConfig;
  episodes: EpisodesConfig;
  reports: ReportsConfig;
  retention: RetentionConfig;
  ingest: IngestConfig;
  shutdownGraceMs: number;
  /** After SIGTERM, how long /readyz reports SHUTTING_DOWN while still serving, before the listener closes. */
  shutdownDrainMs: number;
  sandbox: SandboxConfig;
  /** Where the configuration came from, for the start-up banner. */
  source: string;
}
