import type { ColumnType } from 'kysely';

/** A timestamptz column: read as a Date, written as a Date or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamptz column the database fills in when the insert leaves it out. */
export type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** A column with a database default that inserts may leave out. */
export type WithDefault<T> = ColumnType<T, T | undefined, T>;
/** A jsonb column. */
export type Json<T = Record<string, unknown>> = ColumnType<T, string | T, string | T>;
/** A jsonb column with a database default that inserts may leave out. */
export type JsonWithDefault<T = Record<string, unknown>> = ColumnType<T, string | T | undefined, string | T>;
