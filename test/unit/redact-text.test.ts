import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { redactJsonText } from '../../src/capture/redact-text.js';
import { HASH_PREFIX, redactFhir, type RedactionRules } from '../../src/capture/redact.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';

const hash = createPatientHasher('redaction-test-secret-0123456789-abcdef');
const rules: RedactionRules = { hash, birthDateAsYear: true };
const FIXTURES = path.resolve('..', 'shared', 'fixtures');

function fixtureFiles(dir = FIXTURES): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return fixtureFiles(full);
    return name.endsWith('.json') ? [full] : [];
  });
}

/** What the reference (parse, walk) makes of a text. */
function reference(text: string, ruleSet = rules) {
  const { value, patientHashes } = redactFhir(JSON.parse(text) as unknown, ruleSet);
  return { value, patientHashes };
}

/** What the text redactor makes of it, parsed for comparison; undefined when it leaves the text to the reference. */
function scanned(text: string, ruleSet = rules) {
  const result = redactJsonText(text, ruleSet);
  return result && { value: JSON.parse(result.value) as unknown, patientHashes: result.patientHashes };
}

describe('redactJsonText gives what redactFhir gives', () => {
  const files = fixtureFiles();

  it.each(files.map((file) => [path.relative(FIXTURES, file), file]))(
    '%s, as published and compact',
    (_name, file) => {
      const published = readFileSync(file, 'utf8');
      for (const text of [published, JSON.stringify(JSON.parse(published))]) {
        const result = scanned(text);
        expect(result).toBeDefined();
        expect(result).toEqual(reference(text));
      }
    },
  );

  it('with birth dates dropped rather than cut to the year', () => {
    const noYear = { ...rules, birthDateAsYear: false };
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(scanned(text, noYear)).toEqual(reference(text, noYear));
    }
  });

  it('whatever order the members that decide come in', () => {
    const text = JSON.stringify({
      contained: [
        {
          id: 'P1',
          identifier: [{ value: '9434765919', system: 'https://fhir.nhs.uk/Id/nhs-number' }],
          resourceType: 'Patient',
        },
      ],
      subject: { display: 'Peter Chalmers', reference: 'Patient/9434765919' },
      participant: [
        { actor: { display: 'Dr Who', reference: 'Practitioner/1' } },
        { actor: { display: 'A clinic' } },
      ],
      entry: [{ resource: { id: '9434765919', name: [{ family: 'Chalmers' }], resourceType: 'Patient' } }],
      link: [
        {
          url: 'https://x.example/Appointment?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919',
        },
      ],
      issue: [{ diagnostics: 'patient 943 476 5919 not found; 1234567890 is not one' }],
    });
    const result = scanned(text);
    expect(result).toBeDefined();
    expect(result).toEqual(reference(text));
    expect(JSON.stringify(result)).not.toMatch(/Chalmers|Dr Who|9434765919|943 476 5919/);
    expect(result!.patientHashes).toEqual([hash('9434765919')]);
  });

  it('drops a display that is an object, with the patient hashes found in it', () => {
    for (const text of [
      '{"display":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}},"reference":"Slot/1"}',
      '{"display":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}}}',
    ]) {
      expect(scanned(text)).toEqual(reference(text));
    }
    expect(scanned('{"display":[{"reference":"Patient/1"}],"reference":"Slot/1"}')?.patientHashes).toEqual(
      [],
    );
  });

  it('hashes an NHS number written as a JSON number, as the reference does', () => {
    const text = '{"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":9434765919}]}';
    const result = scanned(text);
    expect(result).toEqual(reference(text));
    expect(JSON.stringify(result)).not.toContain('9434765919');
    expect(result!.patientHashes).toEqual([hash('9434765919')]);
  });

  it('keeps numbers, escapes and layout of everything it does not change exactly as sent', () => {
    const text =
      '{ "resourceType" : "Slot",\n  "x": 1.50, "big": 12345678901234567890, "e": -0.5E+3,\n  "s": "caf\\u00e9 \\"q\\" \\/ \\n" ,"a":[ 1 , true,false ,null ] }';
    expect(redactJsonText(text, rules)?.value).toBe(text);
  });

  it('rebuilds only the objects on the way to a change (their members then lose the space between them)', () => {
    const text = '{"a": [ 1, 2 ], "b": {"name": [{"family": "Chalmers"}], "k": 1}}';
    expect(redactJsonText(text, rules)?.value).toBe('{"a": [ 1, 2 ],"b": {"k": 1}}');
  });

  it('over generated documents with every rule, layout and escape', () => {
    const random = seeded(20261122);
    let handled = 0;
    for (let i = 0; i < 3000; i++) {
      const text = serialise(document(random, 0), random);
      const result = scanned(text);
      if (result) handled += 1;
      // Left alone or not, the result is the reference's.
      expect({ text, result: result ?? reference(text) }).toEqual({ text, result: reference(text) });
    }
    // Escaped keys and repeated keys send a few to the reference; nearly all are read in one pass.
    expect(handled).toBeGreaterThan(2700);
  });
});

describe('redactJsonText leaves to the reference', () => {
  it.each([
    ['invalid JSON: a trailing comma', '{"a":1,}'],
    ['invalid JSON: single quotes', "{'a':1}"],
    ['invalid JSON: a raw control character in a string', '{"a":"x\ty"}'],
    ['invalid JSON: an unknown escape', '{"a":"\\x41"}'],
    ['invalid JSON: a short \\u escape', '{"a":"\\u00e"}'],
    ['invalid JSON: a leading zero', '{"a":01}'],
    ['invalid JSON: a bare point', '{"a":1.}'],
    ['invalid JSON: a lone minus', '[-]'],
    ['invalid JSON: a misspelt literal', '[tru]'],
    ['invalid JSON: a byte order mark', '\ufeff{}'],
    ['invalid JSON: two values', '{} {}'],
    ['invalid JSON: unclosed', '{"a":[1,2'],
    ['invalid JSON: empty', ''],
    ['an escaped key (it may spell a rule key)', '{"n\\u0061me":[{"family":"Chalmers"}]}'],
    ['a key like an index (objects order those first)', '{"b":1,"1":2}'],
    ['__proto__', '{"__proto__":{"name":"x"}}'],
    [
      'a repeated name (the last one wins in JSON.parse)',
      '{"name":"Peter Chalmers","name":[{"family":"Chalmers"}]}',
    ],
    ['a repeated birth date', '{"birthDate":"1980-05-06","birthDate":"06/05/1980"}'],
    ['a repeated URL', '{"fullUrl":"Patient/9434765919","fullUrl":"x"}'],
    [
      'a repeated ordinary key',
      '{"a":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"},"b":1,"a":1}',
    ],
    ['a repeated system', '{"system":"https://fhir.nhs.uk/Id/nhs-number","system":"x","value":"9434765919"}'],
    ['a repeated reference', '{"reference":"Patient/1","reference":{"x":1},"display":"Peter"}'],
    ['nesting deeper than the stack', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
  ])('%s', (_why, text) => {
    expect(redactJsonText(text, rules)).toBeUndefined();
  });

  it('and JSON.parse refuses every invalid one', () => {
    for (const text of ['{"a":1,}', '{"a":"x\ty"}', '{"a":01}', '\ufeff{}', '[tru]', ''])
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it('hashes as the reference does when it does read a document', () => {
    const text = '{"resourceType":"Patient","id":"9434765919"}';
    expect(redactJsonText(text, rules)?.value).toBe(
      JSON.stringify({ resourceType: 'Patient', id: `${HASH_PREFIX}${hash('9434765919')}` }),
    );
  });
});

/** A small deterministic generator (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  'resourceType',
  'id',
  'system',
  'value',
  'reference',
  'display',
  'name',
  'text',
  'telecom',
  'address',
  'contained',
  'identifier',
  'subject',
  'birthDate',
  'deceasedDateTime',
  'diagnostics',
  'url',
  'fullUrl',
  'location',
  'note',
  'valueString',
  'data',
  'entry',
  'resource',
  'status',
  'start',
  'family',
  'code',
  'contact',
  'description',
  'extension',
  'meta',
  'patientInstruction',
  'valueHumanName',
  'comment',
];
const STRINGS = [
  'Patient',
  'Slot',
  'Appointment',
  'https://fhir.nhs.uk/Id/nhs-number',
  'http://fhir.nhs.net/Id/nhs-number',
  '9434765919',
  '943 476 5919',
  'Patient/9434765919',
  'Patient/abc',
  '#P1',
  'https://p.example/Patient/9434765919/Appointment',
  'https://p.example/Slot?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&status=free',
  '1974-12-25',
  '1974',
  'x',
  'Peter Chalmers',
  'caf\u00e9 "quoted" \\ / \n tab\t',
  'see 943 476 5919',
  '',
];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function document(random: () => number, depth: number): unknown {
  const roll = random();
  if (depth > 4 || roll < 0.35) {
    const kind = random();
    if (kind < 0.7) return pick(random, STRINGS);
    if (kind < 0.85) return pick(random, [0, -1.5, 1e21, 3, 12.25, 9434765919]);
    return pick(random, [true, false, null]);
  }
  if (roll < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => document(random, depth + 1));
  const object: Record<string, unknown> = {};
  const size = Math.floor(random() * 6);
  for (let i = 0; i < size; i++) object[pick(random, KEYS)] = document(random, depth + 1);
  return object;
}

/** JSON with random layout and random (valid) escapes, now and then an escaped key. */
function serialise(value: unknown, random: () => number): string {
  const space = () => pick(random, ['', '', '', ' ', '\n  ', '\t', '\r\n']);
  const string = (s: string, key = false) => {
    let out = JSON.stringify(s);
    if (random() < (key ? 0.01 : 0.2))
      out = out.replace(/[a-z/]/g, (c) =>
        random() < 0.3 ? (c === '/' ? '\\/' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : c,
      );
    return out;
  };
  if (Array.isArray(value))
    return `[${space()}${value.map((v) => serialise(v, random)).join(`${space()},${space()}`)}${space()}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    // Now and then a key repeated with another value (JSON.parse keeps the last, in the first's place).
    if (entries.length > 0 && random() < 0.03)
      entries.push([pick(random, entries)[0], pick(random, STRINGS)]);
    const members = entries.map(
      ([k, v]) => `${space()}${string(k, true)}${space()}:${space()}${serialise(v, random)}${space()}`,
    );
    return `{${members.join(',')}${members.length === 0 ? space() : ''}}`;
  }
  return typeof value === 'string' ? string(value) : JSON.stringify(value);
}
