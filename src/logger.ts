import { pino, type Logger } from 'pino';
import type { Config } from './config/config.types.js';

export type { Logger };

/**
 * Paths pino censors before a line is written: credentials at any of the first four levels (headers are
 * often nested: `{ exchange: { request: { headers } } }`), and patient fields one level down. Payloads are
 * never logged in the first place; this is the second fence, for a field that reaches a log by mistake.
 */
export const REDACTED_LOG_PATHS = [
  'authorization',
  '*.authorization',
  'Authorization',
  '*.Authorization',
  'cookie',
  '*.cookie',
  'token',
  '*.token',
  'hashSecret',
  '*.hashSecret',
  'databaseUrl',
  '*.databaseUrl',
  'nhsNumber',
  '*.nhsNumber',
  'patient',
  '*.patient',
  'identifier',
  '*.identifier',
  'birthDate',
  '*.birthDate',
  'telecom',
  '*.telecom',
  'address',
  '*.address',
  'body',
  '*.body',
  '*.*.authorization',
  '*.*.*.authorization',
  '*.*.headers.authorization',
  '*.*.*.headers.authorization',
  '*.*.Authorization',
  '*.*.*.Authorization',
  '*.*.headers.Authorization',
  '*.*.*.headers.Authorization',
  '*.*.cookie',
  '*.*.*.cookie',
  '*.*.headers.cookie',
  '*.*.*.headers.cookie',
];

/** The root logger: JSON lines on stdout (or `destination`), secrets and patient fields censored. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'booking-event-collector' },
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
