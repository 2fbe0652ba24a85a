import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOrCreateSecretFile } from '../../src/config/secret-file.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'collector-secret-'));

describe('loadOrCreateSecretFile', () => {
  it('makes a secret once (mode 0600) and reads the same one afterwards', () => {
    const d = dir();
    const made = loadOrCreateSecretFile(d, 'admin-token');
    expect(made.created).toBe(true);
    expect(made.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(made.file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecretFile(d, 'admin-token')).toEqual({ ...made, created: false });
  });

  it('replaces an empty file (a crash between creating and writing it)', () => {
    const d = dir();
    writeFileSync(path.join(d, 'admin-token'), '\n');
    const made = loadOrCreateSecretFile(d, 'admin-token');
    expect(made.created).toBe(true);
    expect(readFileSync(made.file, 'utf8').trim()).toBe(made.value);
  });

  it('refuses a secret that is too short, naming the file', () => {
    const d = dir();
    writeFileSync(path.join(d, 'hash-secret'), 'short\n');
    expect(() => loadOrCreateSecretFile(d, 'hash-secret')).toThrow(
      `${path.join(d, 'hash-secret')} holds a secret of 5 characters; at least 32 are needed`,
    );
  });
});
