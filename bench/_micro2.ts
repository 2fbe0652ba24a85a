import { readFileSync } from 'node:fs';
import { redactJsonText } from '../src/capture/redact-text.js';
import { createPatientHasher } from '../src/privacy/patient-hash.js';
const buf = readFileSync('/tmp/prof/body.json'); const text = buf.toString('utf8');
const rules = { hash: createPatientHasher('x'.repeat(40)), birthDateAsYear: true };
for (let i = 0; i < 300; i++) redactJsonText(text, rules);
const t = process.hrtime.bigint(); for (let i = 0; i < 3000; i++) redactJsonText(text, rules);
console.log('fast', Number(process.hrtime.bigint() - t) / 3e6, 'us');
