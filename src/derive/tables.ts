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

export function loadDerivationTables(tables: TablesConfig): DerivationTables {
  return {
    dispositions: loadDispositionTable(tables.dispositions ?? bundledTable('dispositions.csv')),
    bankHolidays: loadBankHolidays(
      tables.bankHolidays ?? bundledTable('bank-holidays-england-and-wales.csv'),
    ),
  };
}
