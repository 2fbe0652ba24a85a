import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_compressed_bodies.js';
import * as m0003 from './0003_episode_stitching.js';
import * as m0004 from './0004_report_rollups.js';
import * as m0005 from './0005_inspection.js';

/**
 * Every migration, by its ordered name. Listed statically (not read from the folder at run time) so the
 * same list serves tsx, the compiled build and jest alike.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_compressed_bodies': m0002,
  '0003_episode_stitching': m0003,
  '0004_report_rollups': m0004,
  '0005_inspection': m0005,
};
