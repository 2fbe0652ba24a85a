import { createPatientHasher } from '../../src/privacy/patient-hash.js';

const secret = 'a-secret-of-at-least-thirty-two-characters';

describe('createPatientHasher', () => {
  it('gives the same hash for the same number under one secret, however it is written', () => {
    const hash = createPatientHasher(secret);
    expect(hash('9434765919')).toBe(hash('943 476 5919'));
    expect(hash('9434765919')).toBe(hash('943-476-5919'));
    expect(hash('9434765919')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('gives different hashes for different numbers and under different secrets', () => {
    const hash = createPatientHasher(secret);
    const other = createPatientHasher(`${secret}!`);
    expect(hash('9434765919')).not.toBe(hash('9434765870'));
    expect(hash('9434765919')).not.toBe(other('9434765919'));
  });

  it('never contains the number itself', () => {
    const hash = createPatientHasher(secret);
    expect(hash('9434765919')).not.toContain('9434765919');
  });

  it('refuses a short secret', () => {
    expect(() => createPatientHasher('short')).toThrow(/at least 32 characters/);
  });
});
