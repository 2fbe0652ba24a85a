import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { HASH_PREFIX, redactFhir, redactTarget, type RedactionRules } from '../../src/capture/redact.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { personalValues } from '../helpers/personal.js';
import { fixture } from '../helpers/sandbox.js';

const hash = createPatientHasher('redaction-test-secret-0123456789-abcdef');
const rules: RedactionRules = { hash, birthDateAsYear: true };
const FIXTURES = path.resolve('..', 'shared', 'fixtures');

function fixtureNames(dir = FIXTURES): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return fixtureNames(full);
    return name.endsWith('.json') ? [path.relative(FIXTURES, full)] : [];
  });
}

describe('redactFhir', () => {
  const names = fixtureNames();

  it('finds the fixtures', () => {
    expect(names.length).toBeGreaterThanOrEqual(20);
  });

  it.each(names)(
    '%s: no name, address, telecom, NHS number, full birth date or free text survives',
    (name) => {
      const original = fixture(name);
      const personal = personalValues(original);
      const redacted = JSON.stringify(redactFhir(original, rules).value);
      for (const value of personal)
        expect({ name, value, leaked: redacted.includes(value) }).toEqual({ name, value, leaked: false });
      // The input is left as it was.
      expect(original).toEqual(fixture(name));
    },
  );

  it('keeps what booking semantics need: types, ids, references, status, times, codes, deadlines', () => {
    const referral = fixture('bars/process-message-referral-validation-request.json');
    const { value, patientHashes } = redactFhir(referral, rules);
    const resources = value.entry.map((e: any) => e.resource);
    const serviceRequest = resources.find((r: any) => r.resourceType === 'ServiceRequest');
    expect(serviceRequest.occurrencePeriod).toEqual({
      start: '2021-11-26T15:00:00+00:00',
      end: '2021-11-26T15:20:00+00:00',
    });
    expect(serviceRequest.subject).toEqual(
      referral.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource.subject,
    );
    const carePlan = resources.find((r: any) => r.resourceType === 'CarePlan');
    const codes = carePlan.activity[0].outcomeCodeableConcept.flatMap((c: any) =>
      (c.coding ?? []).map((x: any) => x.code),
    );
    expect(codes).toContain('Dx0122');
    expect(JSON.stringify(carePlan)).not.toContain('CONSULTATION SUMMARY');
    const patient = resources.find((r: any) => r.resourceType === 'Patient');
    expect(patient.birthDate).toBe('1959');
    expect(patient.identifier[0].value).toBe(`${HASH_PREFIX}${hash('3478526985')}`);
    expect(patientHashes).toEqual([hash('3478526985')]);
    // A service's plain name stays: it names an organisation, not a person.
    expect(resources.find((r: any) => r.resourceType === 'HealthcareService').name).toBe(
      'Consulting psychologists and/or psychology services',
    );
  });

  it("hashes the patient's id in references, which can be the NHS number itself", () => {
    const response = fixture('bars/process-message-booking-response.json');
    const appointment = redactFhir(response, rules).value.entry.find(
      (e: any) => e.resource.resourceType === 'Appointment',
    ).resource;
    expect(appointment.participant[0].actor.reference).toBe(`Patient/${HASH_PREFIX}${hash('9476719931')}`);
    expect(appointment.slot[0].reference).toBe('Slot/c3f6145e-1a26-4345-b3f2-dccbcba62049');
  });

  it('hashes the same NHS number the same way every time, and can drop birth dates entirely', () => {
    const book = fixture('stu3/appointment-book-request.json');
    const a = redactFhir(book, rules);
    const b = redactFhir(book, { ...rules, birthDateAsYear: false });
    expect(a.patientHashes).toEqual(b.patientHashes);
    expect(a.value.contained[1].birthDate).toBe('1974');
    expect(b.value.contained[1]).not.toHaveProperty('birthDate');
    expect(a.value.slot).toEqual([{ reference: '#slot002' }]);
    expect(a.value.status).toBe('booked');
  });
});

describe('redactTarget', () => {
  it('hashes NHS numbers in identifier parameters and keeps everything else as sent', () => {
    const { value, patientHashes } = redactTarget(
      '/Appointment',
      'identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9434765919&_count=10&service=2000011147',
      rules,
    );
    expect(value.query).toBe(
      `identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${HASH_PREFIX}${hash('9434765919')}`)}&_count=10&service=2000011147`,
    );
    expect(patientHashes).toEqual([hash('9434765919')]);
    expect(
      redactTarget('/Appointment', 'patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919', rules)
        .value.query,
    ).not.toContain('9434765919');
  });

  it("hashes the patient's id in GP Connect paths", () => {
    const { value } = redactTarget('/gpconnect/Patient/P9434765919/Appointment', 'start=ge2026-11-22', rules);
    expect(value.path).toBe(`/gpconnect/Patient/${HASH_PREFIX}${hash('P9434765919')}/Appointment`);
    expect(value.query).toBe('start=ge2026-11-22');
  });

  it('leaves targets without patient identifiers untouched', () => {
    const query =
      'schedule.actor%3Ahealthcareservice=2000011147&start=ge2026-11-22T10%3A00%3A00%2B00%3A00&status=free';
    expect(redactTarget('/Slot', query, rules)).toEqual({
      value: { path: '/Slot', query },
      patientHashes: [],
    });
  });
});

describe('URLs inside bodies', () => {
  it("hashes NHS numbers in a searchset's self link and in full URLs", () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [
        {
          relation: 'self',
          url: 'https://p.example/fhir/Appointment?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919',
        },
      ],
      entry: [
        {
          fullUrl: 'https://p.example/fhir/Patient/9434765919',
          resource: { resourceType: 'Patient', id: 'x' },
        },
      ],
    };
    const { value, patientHashes } = redactFhir(bundle, rules);
    expect(JSON.stringify(value)).not.toContain('9434765919');
    expect(value.link[0]!.url).toMatch(/^https:\/\/p\.example\/fhir\/Appointment\?identifier=/);
    expect(value.entry[0]!.fullUrl).toBe(
      `https://p.example/fhir/Patient/${HASH_PREFIX}${hash('9434765919')}`,
    );
    // The entry's Patient id ('x') is hashed too, as every non-contained Patient id is.
    expect(patientHashes.sort()).toEqual([hash('9434765919'), hash('x')].sort());
  });
});

describe('the gaps a review found', () => {
  it('hashes or removes every other carrier of patient data', () => {
    const body = {
      resourceType: 'Bundle',
      entry: [
        {
          fullUrl: 'Patient/9434765919',
          resource: { resourceType: 'Patient', id: '9434765919', deceasedDateTime: '2020-01-02T03:04:05Z' },
          response: { location: 'Patient/9434765919/_history/1' },
        },
        {
          resource: {
            resourceType: 'Appointment',
            participant: [
              {
                actor: {
                  reference: 'Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919',
                  display: 'Mr Peter Chalmers',
                },
              },
            ],
            extension: [
              { url: 'x', valueHumanName: { family: 'Chalmers' } },
              { url: 'y', valueAddress: { city: 'Leeds' } },
              { url: 'z', valueContactPoint: { value: '0113' } },
            ],
            identifier: [{ system: 'http://fhir.nhs.net/Id/nhs-number', value: '9434765870' }],
          },
        },
        { resource: { resourceType: 'Communication', payload: [{ contentString: 'Peter is unwell' }] } },
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [{ code: 'not-found', diagnostics: 'Patient 943 476 5919 not found' }],
          },
        },
      ],
    };
    const text = JSON.stringify(redactFhir(body, rules).value);
    for (const personal of [
      '9434765919',
      '943 476 5919',
      '9434765870',
      'Chalmers',
      'Leeds',
      '0113',
      'Peter',
      '2020-01-02',
    ]) {
      expect({ personal, kept: text.includes(personal) }).toEqual({ personal, kept: false });
    }
    expect(text).toContain('"deceasedDateTime":"2020"');
    expect(text).toContain('"code":"not-found"');
  });

  it('keeps no value of patient search parameters, and hashes patient references in queries', () => {
    const query =
      'family=Chalmers&given=Peter&birthdate=1974-12-25&phone=0113&address-postalcode=LS1&patient=Patient/9434765919&subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765870&status=free';
    const { value } = redactTarget('/Appointment', query, rules);
    for (const personal of ['Chalmers', 'Peter', '1974-12-25', '0113', 'LS1', '9434765919', '9434765870'])
      expect(value.query).not.toContain(personal);
    expect(value.query).toContain('status=free');
    expect(value.query).toContain(
      `patient=${encodeURIComponent(`Patient/${HASH_PREFIX}${hash('9434765919')}`)}`,
    );
  });
});
