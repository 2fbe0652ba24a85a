import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  afterWorkingDays,
  deadlineOf,
  loadBankHolidays,
  loadDispositionTable,
  parseBankHolidays,
  parseDispositionTable,
  TableError,
} from '../../src/derive/dispositions.js';
import { loadDerivationTables } from '../../src/derive/tables.js';

const table = loadDispositionTable(path.resolve('fhir-profiles/tables/dispositions.csv'));
const holidays = loadBankHolidays(path.resolve('fhir-profiles/tables/bank-holidays-england-and-wales.csv'));

describe('the bundled tables', () => {
  it('read every disposition, looked up whatever the case of Dx', () => {
    expect(table.size).toBe(48);
    for (const code of ['Dx02', 'DX02', 'dx02'])
      expect(table.get(code)).toMatchObject({ code: 'Dx02', minutes: 60, bookable: true });
    expect(table.get('Dx75')).toMatchObject({ workingDays: 3 });
    expect(table.get('Dx32')).toMatchObject({ minutes: 0 }); // immediately
    expect(table.get('Dx10')).not.toHaveProperty('minutes'); // non-urgent: no time frame
    expect(table.get('Dx9999')).toBeUndefined();
  });

  it('know the England and Wales bank holidays, substitute days included', () => {
    for (const day of ['2026-04-03', '2026-04-06', '2026-12-25', '2026-12-28', '2027-12-27'])
      expect(holidays.has(day)).toBe(true);
    expect(holidays.has('2026-12-26')).toBe(false); // a Saturday: its substitute is the 28th
  });
});

describe('reading a table refuses what it cannot use, line by line', () => {
  const header = 'code,description,minutes,working_days,category,bookable,confidence';
  it.each([
    [
      'both a time frame in minutes and in working days',
      `${header}\nDx02,x,60,1,c,yes,confirmed`,
      'line 2: give at most one of minutes and working_days',
    ],
    [
      'working days that are not a positive number',
      `${header}\nDx02,x,,0,c,yes,confirmed`,
      'line 2: working_days "0"',
    ],
    [
      'a code that is not a Dx code',
      `${header}\nAB1,x,60,,c,yes,confirmed`,
      'line 2: code "AB1" is not a Dx code',
    ],
    [
      'a code twice, whatever its case',
      `${header}\nDx02,x,60,,c,yes,confirmed\nDX02,y,60,,c,no,confirmed`,
      'line 3: code "DX02" appears twice',
    ],
    ['a bad bookable flag', `${header}\nDx02,x,60,,c,maybe,confirmed`, 'line 2: bookable must be yes or no'],
    ['a wrong header', 'code,minutes\nDx02,60', 'the first line must be'],
  ])('%s', (_why, text, message) => {
    expect(() => parseDispositionTable(text)).toThrow(TableError);
    expect(() => parseDispositionTable(text)).toThrow(message);
  });

  it('and a bank holiday that is not a date', () => {
    expect(() => parseBankHolidays('date,name\n2026-13-01,x')).toThrow('line 2: "2026-13-01" is not a date');
  });
});

describe('working days', () => {
  it('"within 3 working days" of a Friday ends with the Wednesday, London time', () => {
    expect(afterWorkingDays(new Date('2026-11-20T15:00:00Z'), 3, holidays).toISOString()).toBe(
      '2026-11-25T23:59:59.999Z',
    );
  });

  it('skips the Easter bank holiday weekend (British Summer Time: the day ends at 23:00 UTC)', () => {
    expect(afterWorkingDays(new Date('2026-04-02T10:00:00+01:00'), 1, holidays).toISOString()).toBe(
      '2026-04-07T22:59:59.999Z',
    );
  });

  it('skips Christmas and the Boxing Day substitute', () => {
    expect(afterWorkingDays(new Date('2026-12-24T09:00:00Z'), 1, holidays).toISOString()).toBe(
      '2026-12-29T23:59:59.999Z',
    );
  });

  it('counts from the London day: 23:30 UTC on a summer Sunday is already Monday in London', () => {
    expect(afterWorkingDays(new Date('2026-06-21T23:30:00Z'), 1, holidays).toISOString()).toBe(
      '2026-06-23T22:59:59.999Z',
    );
  });
});

describe('deadlineOf: precedence and its recorded source', () => {
  const at = new Date('2026-11-22T10:00:00Z');
  it('the referral occurrencePeriod.end comes first', () => {
    expect(
      deadlineOf(
        { occurrenceEnd: new Date('2026-11-22T11:00:00Z'), disposition: 'Dx02', dispositionAt: at },
        table,
        holidays,
      ),
    ).toEqual({
      deadline: new Date('2026-11-22T11:00:00Z'),
      source: 'referral',
      flags: [],
    });
  });

  it('then the disposition time plus its time frame (minutes, or working days)', () => {
    expect(
      deadlineOf(
        { disposition: 'DX03', dispositionAt: at, windowTo: new Date('2026-11-23T00:00:00Z') },
        table,
        holidays,
      ),
    ).toEqual({
      deadline: new Date('2026-11-22T14:00:00Z'),
      source: 'disposition',
      flags: [],
    });
    expect(
      deadlineOf(
        { disposition: 'Dx115', dispositionAt: new Date('2026-11-20T16:00:00Z') },
        table,
        holidays,
      ).deadline?.toISOString(),
    ).toBe('2026-11-23T23:59:59.999Z');
  });

  it('flags working days counted past the last year of the bank-holiday table', () => {
    expect(
      deadlineOf({ disposition: 'Dx75', dispositionAt: new Date('2028-01-05T10:00:00Z') }, table, holidays),
    ).toMatchObject({
      source: 'disposition',
      flags: ['bank-holidays-unknown'],
    });
    expect(
      deadlineOf({ disposition: 'Dx75', dispositionAt: new Date('2027-06-01T10:00:00Z') }, table, holidays)
        .flags,
    ).toEqual([]);
  });

  it('a disposition with no time frame (non-urgent) leaves the deadline to what follows', () => {
    expect(deadlineOf({ disposition: 'Dx10', dispositionAt: at }, table, holidays)).toEqual({
      deadline: null,
      source: null,
      flags: [],
    });
  });

  it('then the search window, marked inferred; an unknown disposition is flagged', () => {
    expect(
      deadlineOf(
        { disposition: 'Dx9999', dispositionAt: at, windowTo: new Date('2026-11-22T23:59:59Z') },
        table,
        holidays,
      ),
    ).toEqual({
      deadline: new Date('2026-11-22T23:59:59Z'),
      source: 'search-window',
      flags: ['disposition-unknown', 'deadline-inferred'],
    });
    expect(deadlineOf({}, table, holidays)).toEqual({ deadline: null, source: null, flags: [] });
  });
});

describe('loadDerivationTables', () => {
  it('uses the bundled tables unless the configuration names others', () => {
    const bundled = loadDerivationTables({});
    expect(bundled.dispositions.size).toBe(48);
    expect(bundled.bankHolidays.has('2026-12-28')).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'tables-'));
    writeFileSync(
      path.join(dir, 'd.csv'),
      'code,description,minutes,working_days,category,bookable,confidence\nDx02,local,30,,c,yes,local\n',
    );
    writeFileSync(path.join(dir, 'h.csv'), 'date,name\n2026-11-23,A local holiday\n');
    const local = loadDerivationTables({
      dispositions: path.join(dir, 'd.csv'),
      bankHolidays: path.join(dir, 'h.csv'),
    });
    expect(local.dispositions.get('DX02')).toMatchObject({ minutes: 30 });
    expect(local.bankHolidays.has('2026-11-23')).toBe(true);
    expect(() => loadDerivationTables({ dispositions: path.join(dir, 'h.csv') })).toThrow(TableError);
  });
});
