// `sluice serve` as a real process: API keys from the project's settings and from SLUICE_API_KEYS together,
// lookups over HTTP after `sluice features materialize`, and a clean stop on SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli, writeParquet } from './helpers/temp.ts';
import { startServeProcess } from './helpers/serve-process.ts';

const CONFIG = `import { asset, defineProject, entity, featureService, featureView, fileSource } from 'sluice';
const user = entity('user', { keys: { user_id: 'int' } });
const raw = fileSource('raw', { format: 'parquet', path: 'data/profiles.parquet' });
const profiles = asset('profiles', { sql: ({ ref }) => \`SELECT * FROM \${ref(raw)}\` });
const profile = featureView('profile', { entity: user, source: profiles, timestamp: 'ts', features: ['score'] });
const secret = featureView('secret', { entity: user, source: profiles, timestamp: 'ts', features: ['tier'] });
export default defineProject({
  name: 'serving',
  assets: [profiles],
  featureServices: [featureService('model', { features: [profile] }), featureService('internal', { features: [secret] })],
  settings: { apiKeys: { [process.env.MODEL_KEY ?? 'unset']: ['model'] } },
});
`;

describe('sluice serve', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-serve-cli-'));
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
    await writeParquet(path.join(dir, 'data/profiles.parquet'), `SELECT i AS user_id, TIMESTAMP '2026-11-01' + to_hours(i) AS ts, i * 1.5 AS score, 't' || i AS tier FROM range(1, 6) t(i)`);
    expect((await runCli(['run', '-p', dir])).code).toBe(0);
    const materialized = await runCli(['features', 'materialize', '-p', dir]);
    expect(materialized.code, materialized.stderr).toBe(0);
  });
  afterAll(() => cleanup());

  it('serves with keys from the project and the environment, and stops on SIGTERM', async () => {
    const server = await startServeProcess(['-p', dir], { MODEL_KEY: 'model-key', SLUICE_API_KEYS: 'admin-key=*', SLUICE_LOG_LEVEL: 'error' });
    let exit: number | null = null;
    try {
      const url = server.url;
      const lookup = (service: string, key?: string): Promise<Response> => fetch(`${url}/v1/features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }) },
        body: JSON.stringify({ service, entities: [{ user_id: 2 }, { user_id: 9 }] }),
      });
      expect((await lookup('model')).status).toBe(401);
      expect((await lookup('model', 'wrong')).status).toBe(401);
      const forbidden = await lookup('internal', 'model-key');
      expect(forbidden.status).toBe(403);
      expect(JSON.stringify(await forbidden.json())).toMatch(/internal/);
      const ok = await lookup('model', 'model-key');
      expect(ok.status).toBe(200);
      const body = await ok.json() as { results: { features: Record<string, { value: unknown; status: string; eventTimestamp: string | null }> }[] };
      expect(body.results[0]?.features['score']).toEqual({ value: 3, status: 'present', eventTimestamp: '2026-11-01T02:00:00.000Z' });
      expect(body.results[1]?.features['score']).toEqual({ value: null, status: 'missing', eventTimestamp: null });
      expect((await lookup('internal', 'admin-key')).status).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      exit = await server.stop();
    }
    expect(exit).toBe(0);
  });
});
