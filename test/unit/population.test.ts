import { bundledTable } from '../../src/derive/tables.js';
import { loadPopulation, parsePopulation } from '../../src/reports/population.js';

describe('the population table', () => {
  it('bundles the nine English regions (ONS mid-2022 estimates), England about 57.1 million', () => {
    const regions = loadPopulation();
    expect(regions.size).toBe(9);
    expect(regions.get('E12000007')).toEqual({ name: 'London', population: 8_866_000, year: 2022 });
    const england = [...regions.values()].reduce((sum, r) => sum + r.population, 0);
    expect(england).toBeGreaterThan(57_000_000);
    expect(england).toBeLessThan(57_200_000);
    expect(bundledTable('population.csv')).toMatch(/fhir-profiles\/tables\/population\.csv$/);
  });

  it('names every bad line', () => {
    const text = [
      'region,name,population,year',
      'R1,One,100,2024',
      ',No code,100,2024',
      'R1,Again,100,2024',
      'R2,Many,lots,2024',
      'R3,Old,100,24',
    ].join('\n');
    expect(() => parsePopulation(text, 'population.csv')).toThrow(
      [
        'population.csv is invalid:',
        '  - line 3: the region code is missing',
        '  - line 4: region R1 is listed twice',
        '  - line 5: population "lots" is not a positive whole number',
        '  - line 6: year "24" is not a year',
      ].join('\n'),
    );
    expect(() => parsePopulation('code,population\nR1,1', 'p.csv')).toThrow(
      'p.csv: the first line must be "region,name,population,year"',
    );
  });
});
