import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { SandboxConfig } from '../../src/config/config.types.js';
import type { Diary } from '../../src/sandbox/diary.js';
import { createSandboxApp } from '../../src/sandbox/sandbox.app.js';

/** "Now" for sandbox tests: a Sunday morning in winter (London = UTC). */
export const FIXED_NOW = new Date('2026-11-22T09:00:00Z');

/** Sandbox settings for tests: the defaults, no pre-booked slots unless asked. */
export function sandboxSettings(overrides: Partial<SandboxConfig> = {}): SandboxConfig {
  return {
    mount: true,
    seed: 7,
    days: 3,
    prebookedShare: 0,
    stu3SlotConflictStatus: 422,
    faults: [],
    ...overrides,
  };
}

export interface RunningSandbox {
  url: string;
  diary: Diary;
  server: Server;
  close(): Promise<void>;
}

/** The standalone sandbox on a free loopback port, with a fixed clock. */
export async function startSandbox(
  overrides: Partial<SandboxConfig> = {},
  now: Date = FIXED_NOW,
): Promise<RunningSandbox> {
  const { app, diary } = createSandboxApp(sandboxSettings(overrides), () => now);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    diary,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A payload from the published standards in ../shared/fixtures, parsed (a fresh copy each time). */
export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(path.resolve('..', 'shared', 'fixtures', name), 'utf8')) as T;
}

/** GET/POST/PUT a FHIR JSON request and read the answer (status, headers, parsed body or undefined). */
export async function fhir(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      Accept: 'application/fhir+json',
      ...(init.body === undefined ? {} : { 'Content-Type': 'application/fhir+json' }),
      ...init.headers,
    },
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The catalogue code (Spine or BaRS) and issue code of an OperationOutcome. */
export function issueOf(body: any): { code: string | undefined; issue: string; expression?: string } {
  expect(body?.resourceType).toBe('OperationOutcome');
  const issue = body.issue[0];
  return {
    code: issue.details?.coding?.[0]?.code,
    issue: issue.code,
    ...(issue.expression ? { expression: issue.expression[0] } : {}),
  };
}

/** A GP Connect Appointment as the specification asks for one: booking organisation, patient reference. */
export function gpConnectAppointment(slot: any, patientId: string): any {
  return {
    resourceType: 'Appointment',
    meta: { profile: ['https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1'] },
    contained: [
      {
        resourceType: 'Organization',
        id: '1',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A99999' }],
        name: 'NHS 111 Test Service',
        telecom: [{ system: 'phone', value: '0300 000 0000' }],
      },
    ],
    extension: [
      {
        url: 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1',
        valueReference: { reference: '#1' },
      },
    ],
    status: 'booked',
    start: slot.start,
    end: slot.end,
    slot: [{ reference: `Slot/${slot.id}` }],
    created: '2026-11-22T09:00:00+00:00',
    participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
  };
}
