import { gzipSync } from 'node:zlib';
import { consumerOrganisation, exchangeRow, NOT_STORED } from '../../src/capture/exchange-row.js';
import { HASH_PREFIX } from '../../src/capture/redact.js';
import { withReadableBodies } from '../../src/capture/stored-body.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { observedExchange } from '../helpers/observed.js';
import { fixture } from '../helpers/sandbox.js';

const hash = createPatientHasher('exchange-row-test-secret-0123456789-abc');
const rules = { hash, birthDateAsYear: true };

/** An unsigned STU3 bearer JWT naming the consumer organisation, as the Booking Standard describes. */
function jwt(ods: string): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({
    iss: 'https://111.example',
    requesting_organization: {
      resourceType: 'Organization',
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods }],
    },
  })}.`;
}

describe('exchangeRow', () => {
  it('keeps the consumer organisation from the JWT, never the Authorization value', () => {
    const token = jwt('RYE');
    const { row } = exchangeRow(
      observedExchange({ requestHeaders: { authorization: `Bearer ${token}`, cookie: 'session=1' } }),
      rules,
    );
    expect(row.consumer_org).toBe('RYE');
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row.request_headers).toMatchObject({ authorization: NOT_STORED, cookie: NOT_STORED });
  });

  it('reads the consumer from NHSD-End-User-Organisation when there is no JWT, and keeps correlation headers', () => {
    const org = Buffer.from(
      JSON.stringify({
        resourceType: 'Organization',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A12345' }],
      }),
    ).toString('base64');
    const headers = {
      'nhsd-end-user-organisation': org,
      'ssp-traceid': 'trace-1',
      'ssp-from': '200000000115',
      'ssp-to': '918999198999',
      'x-correlation-id': 'corr-1',
      'x-request-id': 'req-1',
    };
    expect(consumerOrganisation(headers)).toBe('A12345');
    const { row } = exchangeRow(observedExchange({ requestHeaders: headers }), rules);
    expect(row).toMatchObject({
      consumer_org: 'A12345',
      trace_id: 'trace-1',
      consumer_asid: '200000000115',
      provider_asid: '918999198999',
      correlation_id: 'corr-1',
      request_id: 'req-1',
    });
  });

  it('stores the redacted request and response bodies, and the patient hash', () => {
    const book = fixture('stu3/appointment-book-request.json');
    const { row, patientHashes } = exchangeRow(
      observedExchange({
        requestBody: JSON.stringify(book),
        responseBody: JSON.stringify({ ...book, id: 'a1' }),
      }),
      rules,
    );
    const readable = withReadableBodies(row);
    const text = JSON.stringify(readable);
    for (const personal of [
      '1234554321',
      'Chalmers',
      'Peter',
      '01234 567 890',
      '123 High Street',
      'LS1 4HR',
      '1974-12-25',
    ])
      expect(text).not.toContain(personal);
    expect(JSON.parse(readable.request_body as string).contained[1].identifier[0].value).toBe(
      `${HASH_PREFIX}${hash('1234554321')}`,
    );
    expect(patientHashes).toEqual([hash('1234554321')]);
    expect(row.patient_hash).toBe(hash('1234554321'));
    expect(row).toMatchObject({
      request_body_encoding: 'br+utf8',
      response_status: 201,
      transport_outcome: 'ok',
      total_ms: 4.25,
      upstream_ms: 4.05,
    });
  });

  it('decompresses gzip bodies before redacting them', () => {
    const book = fixture('stu3/appointment-book-request.json');
    const { row } = exchangeRow(
      observedExchange({
        responseBody: gzipSync(JSON.stringify(book)),
        responseHeaders: { 'content-encoding': 'gzip' },
      }),
      rules,
    );
    const body = withReadableBodies(row).response_body as string;
    expect(body).not.toContain('Chalmers');
    expect(JSON.parse(body).resourceType).toBe('Appointment');
  });

  it('keeps no body it cannot redact: XML, malformed JSON, a truncated body', () => {
    const xml = exchangeRow(
      observedExchange({ requestBody: '<Appointment><name>Peter Chalmers</name></Appointment>' }),
      rules,
    ).row;
    expect(xml.request_body).toBeNull();
    expect(xml.request_size).toBeGreaterThan(0);
    const malformed = exchangeRow(
      observedExchange({ requestBody: '{"name": "Peter Chalmers", ' }),
      rules,
    ).row;
    expect(malformed.request_body).toBeNull();
    const truncated = exchangeRow(
      observedExchange({
        requestBody: JSON.stringify(fixture('stu3/appointment-book-request.json')),
        cap: 100,
      }),
      rules,
    ).row;
    expect(truncated).toMatchObject({ request_body: null, request_truncated: true });
  });

  it('keeps bodies whole only for a provider that opted in', () => {
    const body = Buffer.from([0, 1, 2, 250, 255]);
    const { row } = exchangeRow(
      observedExchange({
        provider: { captureFullBodies: true },
        requestBody: body,
        responseBody: '{"name":"kept"}',
      }),
      rules,
    );
    expect(row).toMatchObject({ request_body_encoding: 'br+binary', response_body_encoding: 'br+utf8' });
    expect(withReadableBodies(row)).toMatchObject({ request_body: body, response_body: '{"name":"kept"}' });
  });

  it('hashes NHS numbers in the stored query and path', () => {
    const { row } = exchangeRow(
      observedExchange({
        method: 'GET',
        path: '/fhir/Appointment',
        query: 'identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919',
      }),
      rules,
    );
    expect(row.query).not.toContain('9434765919');
    expect(row.patient_hash).toBe(hash('9434765919'));
  });
});

describe('exchangeRow on hostile input', () => {
  it('refuses to inflate a decompression bomb (the body is not kept), quickly', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const started = process.hrtime.bigint();
    const { row } = exchangeRow(
      observedExchange({ requestBody: bomb, requestHeaders: { 'content-encoding': 'gzip' } }),
      rules,
    );
    expect(row.request_body).toBeNull();
    expect(row.request_size).toBe(bomb.length);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(5000);
  });

  it('stores no NUL character and no value of a header it does not know', () => {
    const { row } = exchangeRow(
      observedExchange({
        requestHeaders: {
          'x-request-id': 'a\u0000b',
          referer: 'https://111.example/case/9434765919',
          'x-api-key': 'k-123',
        },
      }),
      rules,
    );
    expect(row.request_id).toBe('ab');
    expect(row.request_headers).toMatchObject({
      'x-request-id': 'ab',
      referer: NOT_STORED,
      'x-api-key': NOT_STORED,
    });
    expect(JSON.stringify(row)).not.toContain('9434765919');
  });

  it('redacts Location headers that name the patient', () => {
    const { row } = exchangeRow(
      observedExchange({
        responseHeaders: { location: 'https://p.example/fhir/Patient/9434765919/_history/1' },
      }),
      rules,
    );
    expect((row.response_headers as Record<string, string>).location).toBe(
      `https://p.example/fhir/Patient/${HASH_PREFIX}${hash('9434765919')}/_history/1`,
    );
  });
});
