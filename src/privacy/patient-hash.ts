import { createHmac } from 'node:crypto';

/** Turns an NHS number into the keyed hash stored in its place. */
export type PatientHasher = (nhsNumber: string) => string;

/**
 * A keyed hash (HMAC-SHA-256) of NHS numbers: the same number always gives the same hash under one
 * secret, so episodes can be stitched by patient, while the number cannot be recovered or guessed by
 * hashing all ten-digit numbers without the secret. Spaces and dashes are ignored, as people write
 * NHS numbers as "943 476 5919".
 */
export function createPatientHasher(secret: string): PatientHasher {
  if (secret.length < 32) throw new Error('the patient hash secret must have at least 32 characters');
  return (nhsNumber) =>
    createHmac('sha256', secret).update(nhsNumber.replace(/[\s-]/g, ''), 'utf8').digest('base64url');
}
