import { pino, type Logger } from 'pino';
import type { Config } from './config/config.types.js';

export type { Logger };

/**
 * Paths pino removes before a line is written. Payloads are never logged in the first place; this is the
 * second fence, for a header or field that reaches a log object by mistake.
 */
export const REDACTED_LOG_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.token',
  '*.hashSecret',
  '*.databaseUrl',
  'nhsNumber',
  '*.nhsNumber',
  'patient',
  '*.patient',
  'body',
  '*.body',
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
