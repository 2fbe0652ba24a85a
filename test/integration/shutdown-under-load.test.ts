import path from 'node:path';
import { openStore } from '../../src/store/store.js';
import { processStore, spawnEntry, waitFor } from '../helpers/process.js';

describe('SIGTERM under load', () => {
  it('loses nothing: every exchange the consumers were answered is in the store', async () => {
    const { env, drop } = await processStore('collector-sigterm', {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    const dataDir = env.DATA_DIR!;
    const collector = spawnEntry('src/main.ts', [], env);
    try {
      const [, url] = await waitFor(collector, /listening on (http:\/\/\S+)/);
      let answered = 0;
      let stopping = false;
      // Ten consumers, each sending requests one after another until the collector stops answering.
      const consumer = async () => {
        for (;;) {
          try {
            const res = await fetch(`${url}/fhir/sandbox-stu3/Slot?service=2000011148&status=free`);
            await res.arrayBuffer();
            if (res.status === 200) answered += 1;
          } catch {
            if (stopping) return;
          }
        }
      };
      const consumers = Array.from({ length: 10 }, consumer);
      // Stopped while busy: once a good number were answered (however slow this machine is now).
      const deadline = Date.now() + 30_000;
      while (answered < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      stopping = true;
      collector.child.kill('SIGTERM');
      expect(await collector.exited).toBe(0);
      await Promise.all(consumers);
      expect(answered).toBeGreaterThanOrEqual(100);

      const store = await openStore(
        env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { pgliteDir: path.join(dataDir, 'pglite') },
      );
      try {
        const rows = await store.db
          .selectFrom('exchanges')
          .select((eb) => [
            eb.fn.countAll<number>().as('n'),
            eb.fn.countAll<number>().filterWhere('response_status', '=', 200).as('ok'),
          ])
          .executeTakeFirstOrThrow();
        // Every answered exchange was captured; exchanges cut off by the stop may be there too.
        expect(rows.ok).toBeGreaterThanOrEqual(answered);
        expect(rows.n).toBeGreaterThanOrEqual(rows.ok);
      } finally {
        await store.close();
      }
    } finally {
      collector.child.kill('SIGKILL');
      await drop();
    }
  }, 60_000);
});
