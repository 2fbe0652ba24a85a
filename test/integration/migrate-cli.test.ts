import { processStore, spawnEntry } from '../helpers/process.js';

async function run(args: string[], env: Record<string, string>) {
  const cli = spawnEntry('src/cli/migrate.ts', args, env);
  const code = await cli.exited;
  return { code, out: cli.stdout(), err: cli.stderr() };
}

describe('npm run migrate', () => {
  it('reports pending migrations with --check (exit 1), applies them, then finds nothing to do', async () => {
    const { env, drop } = await processStore('collector-migrate');
    try {
      const before = await run(['--check'], env);
      expect(before).toMatchObject({ code: 1 });
      expect(before.out).toContain('pending migrations: 0001_initial, 0002_compressed_bodies');
      const applied = await run([], env);
      expect(applied.code).toBe(0);
      expect(applied.out).toContain('  applied 0001_initial\n  applied 0002_compressed_bodies');
      const again = await run([], env);
      expect(again.out).toContain('schema is up to date; nothing to apply');
      expect((await run(['--check'], env)).code).toBe(0);
    } finally {
      await drop();
    }
  }, 120_000); // four commands, each a Node process starting tsx
});
