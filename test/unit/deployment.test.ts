import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config.loader.js';

// No Docker engine runs on these machines, so the compose file and Dockerfile are checked by reading them.
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync('Dockerfile', 'utf8');
const postgres = compose.services.postgres!;
const collector = compose.services.collector!;

/** Compose's `${NAME:-default}` with nothing set: the default. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

describe('docker-compose.yml', () => {
  it('runs PostgreSQL with a health check and the collector built from the Dockerfile', () => {
    expect(postgres.image).toMatch(/^postgres:1[5-9]/);
    expect(postgres.healthcheck?.test).toEqual(expect.arrayContaining(['pg_isready']));
    expect(collector.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(existsSync(collector.build!.dockerfile)).toBe(true);
  });

  it("points the collector's DATABASE_URL at the postgres service with its own user, password and database", () => {
    const url = new URL(withDefaults(collector.environment!.DATABASE_URL!));
    const pgEnv = postgres.environment!;
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(url.username).toBe(pgEnv.POSTGRES_USER);
    expect(url.password).toBe(withDefaults(pgEnv.POSTGRES_PASSWORD!));
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
    // The same variable feeds both sides, so setting POSTGRES_PASSWORD changes them together.
    expect(collector.environment!.DATABASE_URL).toContain('${POSTGRES_PASSWORD:-collector}');
    expect(pgEnv.POSTGRES_PASSWORD).toBe('${POSTGRES_PASSWORD:-collector}');
  });

  it('starts the collector only once PostgreSQL is healthy', () => {
    expect(collector.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });

  it('publishes the port the collector listens on, which the Dockerfile exposes', () => {
    const port = collector.environment!.PORT!;
    expect(collector.ports).toEqual([`${port}:${port}`]);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
  });

  it('keeps DATA_DIR (token, spool) and the database in named volumes', () => {
    expect(collector.volumes).toEqual([`collector-data:${collector.environment!.DATA_DIR}`]);
    expect(postgres.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes).sort()).toEqual(['collector-data', 'postgres-data']);
  });

  it('gives the collector an environment its configuration loader accepts', () => {
    const env = Object.fromEntries(
      Object.entries(collector.environment!).map(([k, v]) => [k, withDefaults(String(v))]),
    );
    const config = loadConfig({ env });
    expect(config.databaseUrl).toBe('postgres://collector:collector@postgres:5432/collector');
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe('/var/lib/collector');
  });
});

describe('Dockerfile', () => {
  it('builds with the lockfile and runs the compiled entry point that the build produces', () => {
    expect(dockerfile).toContain('RUN npm ci');
    expect(dockerfile).toContain('RUN npm run build');
    const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    const command = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(command[0]).toBe('node');
    expect(command[command.length - 1]).toBe(`${tsconfig.compilerOptions.outDir}/src/main.js`);
    // Started as `npm start` starts it (the heap setting measured in the README).
    expect(command).toContain('--initial-old-space-size=128');
    expect(
      (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start,
    ).toContain('--initial-old-space-size=128');
    expect(existsSync('src/main.ts')).toBe(true);
  });

  it('runs as an unprivileged user', () => {
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
