import type { NextFunction, Request, Response } from 'express';
import { sql, type Kysely } from 'kysely';
import { maskNhsNumbers } from '../fhir/nhs-number.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { Database } from '../store/database.js';
import type { AccessAuditRow } from '../store/tables/access-audit.table.js';
import type { Clock } from '../clock.js';
import type { Position } from '../http/query-params.js';
import { timeText } from './stored-exchange.js';

/** What one read of patient-level data returned. */
export interface AccessRecord {
  status: number;
  /** The ids of what was read (exchanges, episodes, events). */
  resourceIds: string[];
  resultCount: number | null;
}

/**
 * The query of a request as the audit keeps it: an NHS number given to search by is kept as its keyed
 * hash, and so is any valid one typed elsewhere (names too), however spaced; the audit must not become
 * a list, in clear, of who was looked up. `nhsNumber` is hashed as given, valid or not: a mistyped number
 * is nearly someone's.
 */
export function auditedQuery(query: Request['query'], hash: PatientHasher): Record<string, unknown> {
  const hide = (value: string) => maskNhsNumbers(value, (digits) => `nhs-number-hash:${hash(digits)}`);
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (name === 'nhsNumber') {
      const given = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
      const digits = given
        .map((v) => (typeof v === 'string' ? v : ''))
        .join('')
        .replace(/\D/g, '');
      kept[name] = digits ? `nhs-number-hash:${hash(digits)}` : '[not kept]';
    } else if (typeof value === 'string') kept[hide(name)] = hide(value);
    else if (Array.isArray(value)) kept[hide(name)] = value.map((v) => (typeof v === 'string' ? hide(v) : v));
    else kept[hide(name)] = value;
  }
  return kept;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The access audit row this request wrote (its handler recorded what it returned). */
    auditId?: string;
  }
}

/** The access audit: who read patient-level data, what they asked for, when, and how much came back. */
export class AccessAudit {
  constructor(
    private readonly db: () => Kysely<Database>,
    private readonly hash: PatientHasher,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * Records a read before its answer is sent: when the record cannot be written the read fails (a read
   * that leaves no trace is not served). Returns the record's id.
   */
  async record(req: Request, res: Response, access: AccessRecord): Promise<string> {
    const id = newId();
    await this.db()
      .insertInto('access_audit')
      .values({
        id,
        at: this.clock(),
        token_name: req.principal?.name ?? 'anonymous',
        roles: req.principal ? [...req.principal.roles] : [],
        method: req.method,
        path: maskNhsNumbers(
          req.path === '/' ? req.baseUrl : `${req.baseUrl}${req.path}`,
          (digits) => `nhs-number-hash:${this.hash(digits)}`,
        ),
        query: JSON.stringify(auditedQuery(req.query, this.hash)),
        resource_ids: access.resourceIds,
        result_count: access.resultCount,
        status: access.status,
        request_id: typeof req.id === 'string' ? req.id : null,
      })
      .execute();
    res.locals.auditId = id;
    return id;
  }

  /**
   * Brings a record written before a streamed answer up to date: what it has sent so far (called
   * before each part is sent, so the record never lags what left).
   */
  async complete(id: string, access: Omit<AccessRecord, 'status'>): Promise<void> {
    await this.db()
      .updateTable('access_audit')
      .set({ resource_ids: access.resourceIds, result_count: access.resultCount })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Middleware for patient-level paths: an attempt that ends without its handler recording it (refused
   * for want of a role, a bad query, an id not found) is recorded once the answer is sent.
   */
  attempts() {
    return (req: Request, res: Response, next: NextFunction): void => {
      res.on('finish', () => {
        if (res.locals.auditId || !req.principal) return;
        this.record(req, res, { status: res.statusCode, resourceIds: [], resultCount: null }).catch(
          (error: unknown) => this.logger.error({ err: error, path: req.path }, 'access audit not written'),
        );
      });
      next();
    };
  }
}

/** What `GET /api/audit` can narrow the audit by. */
export interface AuditQuery {
  from?: Date;
  to?: Date;
  /** A token's name. */
  token?: string;
  /** An exchange, episode or event id: who looked at it. */
  resource?: string;
  after?: Position;
  limit: number;
}

/** A page of the audit, newest first, each row with the database's text of its time (for a cursor). */
export async function auditPage(
  db: Kysely<Database>,
  query: AuditQuery,
): Promise<(AccessAuditRow & { at_text: string })[]> {
  const where = [
    ...(query.from ? [sql`a.at >= ${query.from}`] : []),
    ...(query.to ? [sql`a.at < ${query.to}`] : []),
    ...(query.token ? [sql`a.token_name = ${query.token}`] : []),
    ...(query.resource ? [sql`${query.resource} = any(a.resource_ids)`] : []),
    ...(query.after ? [sql`(a.at, a.id) < (${query.after.at}::timestamptz, ${query.after.id}::uuid)`] : []),
  ];
  const { rows } = await sql<AccessAuditRow & { at_text: string }>`
    select a.*, ${timeText('a.at')} as at_text from access_audit a
    ${where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``}
    order by a.at desc, a.id desc limit ${query.limit}`.execute(db);
  return rows;
}
