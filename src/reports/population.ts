import { readFileSync } from 'node:fs';
import { csvLines, TableError } from '../derive/dispositions.js';
import { bundledTable } from '../derive/tables.js';

/** A region's population, from the population table (reports.md: configuration). */
export interface RegionPopulation {
  name: string;
  population: number;
  year: number;
}

/** Reads a population table (CSV: region, name, population, year). */
export function parsePopulation(text: string, source = 'population'): Map<string, RegionPopulation> {
  const [header, ...rows] = csvLines(text);
  if (!header || header.cells.join(',') !== 'region,name,population,year')
    throw new TableError(`${source}: the first line must be "region,name,population,year"`);
  const regions = new Map<string, RegionPopulation>();
  const problems: string[] = [];
  for (const { line, cells } of rows) {
    const [region = '', name = '', population = '', year = ''] = cells;
    if (!region) problems.push(`line ${line}: the region code is missing`);
    else if (regions.has(region)) problems.push(`line ${line}: region ${region} is listed twice`);
    else if (!/^\d+$/.test(population) || Number(population) <= 0)
      problems.push(`line ${line}: population "${population}" is not a positive whole number`);
    else if (!/^\d{4}$/.test(year)) problems.push(`line ${line}: year "${year}" is not a year`);
    else regions.set(region, { name: name || region, population: Number(population), year: Number(year) });
  }
  if (problems.length > 0) throw new TableError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  return regions;
}

/** The configured population table, else the bundled one (English regions, ONS mid-2022 estimates). */
export function loadPopulation(file?: string): Map<string, RegionPopulation> {
  const path = file ?? bundledTable('population.csv');
  return parsePopulation(readFileSync(path, 'utf8'), path);
}
