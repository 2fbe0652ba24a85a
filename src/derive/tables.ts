import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TablesConfig } from '../config/config.types.js';
import {
  loadBankHolidays,
  loadDispositionTable,
  type BankHolidays,
  type DispositionTable,
} from './dispositions.js';

/**
 * A table bundled in `fhir-profiles/tables/`, found from this module whether it runs from the sources
 * (`src/derive/`) or the build (`dist/src/derive/`).
 */
export function bundledTable(name: string): string {
  for (const up of ['../../', '../../../']) {
    const file = fileURLToPath(new URL(`${up}fhir-profiles/tables/${name}`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error(`the bundled table ${name} is missing (fhir-profiles/tables/)`);
}

/** The tables derivation reads: the configured ones, else the bundled ones. */
export interface DerivationTables {
  dispositions: DispositionTable;
  bankHolidays: BankHolidays;
}

/**
 * The tables' files: the configured ones, else the bundled ones. What a worker thread is given: one
 * bundled for the sources cannot find the bundled tables from its own location.
 */
export function tablePaths(
  tables: TablesConfig,
): Required<Pick<TablesConfig, 'dispositions' | 'bankHolidays'>> {
  return {
    dispositions: tables.dispositions ?? bundledTable('dispositions.csv'),
    bankHolidays: tables.bankHolidays ?? bundledTable('bank-holidays-england-and-wales.csv'),
  };
}

export function loadDerivationTables(tables: TablesConfig): DerivationTables {
  const paths = tablePaths(tables);
  return {
    dispositions: loadDispositionTable(paths.dispositions),
    bankHolidays: loadBankHolidays(paths.bankHolidays),
  };
}
