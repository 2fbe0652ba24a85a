import type { NextFunction, Request, Response } from 'express';
import type { Kysely } from 'kysely';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { Database } from '../store/database.js';

/** What one read of patient-level data returned. */
export interface AccessRecord {
  status: number;
  /** The ids of what was read (exchanges, episodes, events). */
  resourceIds: string[];
  resultCount: number | null;
}

const NHS_NUMBER_LIKE = /\b\d{3}[\s-]?\d{3}[\s-]?\d{4}\b/g;

/**
 * The query of a request as the audit keeps it: an NHS number given to search by is kept as its keyed
 * hash (the audit must not become a list of who was looked up, in clear), wherever it was typed.
 */
export function auditedQuery(query: Request['query'], hash: PatientHasher): Record<string, unknown> {
  const hide = (value: string) =>
    value.replace(NHS_NUMBER_LIKE, (found) => {
      const digits = found.replace(/[\s-]/g, '');
      return isValidNhsNumber(digits) ? `nhs-number-hash:${hash(digits)}` : found;
    });
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (typeof value === 'string') kept[name] = hide(value);
    else if (Array.isArray(value)) kept[name] = value.map((v) => (typeof v === 'string' ? hide(v) : v));
    else kept[name] = value;
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
        at: new Date(),
        token_name: req.principal?.name ?? 'anonymous',
        roles: req.principal ? [...req.principal.roles] : [],
        method: req.method,
        path: req.path === '/' ? req.baseUrl : `${req.baseUrl}${req.path}`,
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

  /** Completes a record written before a streamed answer: how much it held once it ended. */
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
