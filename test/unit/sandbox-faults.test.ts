import { parseFault, planFaults } from '../../src/sandbox/faults.js';
import type { SandboxError } from '../../src/sandbox/outcomes.js';
import { seededRandom } from '../../src/sandbox/random.js';

describe('fault specifications', () => {
  it('read every directive', () => {
    const random = seededRandom(1);
    expect(parseFault('latency=250; status=503', random)).toEqual({ latencyMs: 250, failure: 'unavailable' });
    expect(parseFault('reset', random)).toEqual({ latencyMs: 0, transport: 'reset' });
    expect(parseFault('hang', random).transport).toBe('hang');
    expect(parseFault('stall', random).transport).toBe('stall');
    expect(parseFault('trickle=64:50', random).trickle).toEqual({ bytes: 64, everyMs: 50 });
    expect(parseFault('error=slot-unavailable', random).failure).toBe('slot-unavailable');
    expect(parseFault('empty-with-outcome', random).empty).toBe('with-outcome');
    expect(parseFault('status=502', random).failure).toBe('bad-gateway');
  });

  it('draw latencies from a distribution, the same for the same seed', () => {
    const draw = (seed: number, spec: string) =>
      Array.from({ length: 200 }, () => parseFault(spec, seededRandom(seed)).latencyMs);
    const uniform = draw(3, 'latency=uniform:100:300');
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...uniform)).toBeLessThanOrEqual(300);
    const random = seededRandom(5);
    const normal = Array.from({ length: 2000 }, () => parseFault('latency=normal:200:20', random).latencyMs);
    const mean = normal.reduce((a, b) => a + b, 0) / normal.length;
    expect(mean).toBeGreaterThan(195);
    expect(mean).toBeLessThan(205);
    expect(draw(9, 'latency=exp:50')).toEqual(draw(9, 'latency=exp:50'));
  });

  it('refuse what they do not know', () => {
    const random = seededRandom(1);
    expect(() => parseFault('explode', random)).toThrow('unknown fault directive "explode"');
    expect(() => parseFault('status=418', random)).toThrow(/no dialect answer/);
    expect(() => parseFault('latency=soon', random)).toThrow(/non-negative numbers/);
    expect(() => parseFault('error=oops', random)).toThrow(/unknown error name/);
  });

  it('apply configured rules by dialect, interaction and probability, then the header', () => {
    const rules = [
      { dialect: 'bars' as const, interaction: 'book' as const, probability: 1, fault: 'latency=100' },
      { interaction: 'slot-search' as const, probability: 0, fault: 'status=500' },
    ];
    const random = seededRandom(2);
    expect(planFaults('bars', 'book', undefined, rules, random)).toEqual({ latencyMs: 100 });
    expect(planFaults('stu3', 'book', undefined, rules, random)).toEqual({ latencyMs: 0 });
    expect(planFaults('bars', 'slot-search', 'latency=5', rules, random)).toEqual({ latencyMs: 5 });
    expect(planFaults('bars', 'book', 'status=503', rules, random)).toEqual({
      latencyMs: 100,
      failure: 'unavailable',
    });
  });

  it('answer a malformed header as a 400 in the dialect', () => {
    const thrown = (() => {
      try {
        planFaults('bars', 'book', 'bogus', [], seededRandom(1));
      } catch (error) {
        return error as SandboxError;
      }
      throw new Error('no error');
    })();
    expect(thrown.status).toBe(400);
    expect(JSON.stringify(thrown.body)).toContain('REC_BAD_REQUEST');
  });
});
