// In transit: `sluice serve` over HTTPS with a self-signed certificate made here by openssl, checked by a real HTTPS
// request that trusts only that certificate; and PostgreSQL (`?sslmode=verify-full&sslrootcert=`) and Redis
// (`rediss://...?ca=`) URLs whose TLS options reach the drivers, through a TLS-terminating proxy in front of the
// plain local services (which have no TLS of their own).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTlsFiles, startServer } from '../src/server/server.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { testPostgresUrl, testRedisUrl } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { thrownSluiceError } from './helpers/errors.ts';
import { fraudProject } from './helpers/fraud-project.ts';
import { makeTempDir, writeParquet } from './helpers/temp.ts';
import { startServeProcess } from './helpers/serve-process.ts';
import { catalogSchemas, createTestSchema } from './helpers/postgres.ts';
import { defineProject, extractAsset, postgresSource } from '../src/index.ts';
import { runAssets } from '../src/batch/runner.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { openWorkspace } from '../src/workspace.ts';

interface Pem { readonly cert: string; readonly key: string }

/** A self-signed certificate for localhost and 127.0.0.1, made with openssl. */
function makeCertificate(dir: string, name: string): Pem {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

/** GET over HTTPS trusting only `ca`. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

interface Proxy { readonly port: number; readonly handshakes: () => number; close(): Promise<void> }

/**
 * Terminates TLS and forwards the plain bytes to `target`. For PostgreSQL, which asks for TLS inside its own
 * protocol, it first answers the client's SSLRequest with 'S', as a TLS-enabled server does.
 */
async function tlsProxy(pem: Pem, target: { host: string; port: number }, postgres: boolean): Promise<Proxy> {
  const context = { cert: fs.readFileSync(pem.cert), key: fs.readFileSync(pem.key) };
  let handshakes = 0;
  const sockets = new Set<net.Socket>();
  const forward = (secure: tls.TLSSocket): void => {
    secure.once('secure', () => { handshakes++; });
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    secure.pipe(upstream).pipe(secure);
    const end = (): void => { secure.destroy(); upstream.destroy(); };
    secure.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    if (!postgres) {
      forward(new tls.TLSSocket(socket, { isServer: true, ...context }));
      return;
    }
    socket.once('data', (first: Buffer) => {
      // SSLRequest: length 8, code 80877103.
      if (first.length !== 8 || first.readInt32BE(4) !== 80877103) {
        socket.destroy();
        return;
      }
      socket.write('S', () => forward(new tls.TLSSocket(socket, { isServer: true, ...context })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    handshakes: () => handshakes,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('TLS', () => {
  let dir: string;
  let cleanup: () => void;
  let pem: Pem;
  let ca: Buffer;
  beforeAll(() => {
    ({ dir, cleanup } = makeTempDir('sluice-tls-'));
    pem = makeCertificate(dir, 'server');
    ca = fs.readFileSync(pem.cert);
  });
  afterAll(() => cleanup());

  it('serves the API over HTTPS to a client that trusts the certificate, and refuses plain HTTP on that port', async () => {
    const { dir: storeDir, cleanup: cleanStore } = makeTempDir('sluice-tls-store-');
    const store = await openOnlineStore(`sqlite:${path.join(storeDir, 'online.db')}`);
    const server = await startServer({ project: fraudProject(), store, apiKeys: 'tls-key=fraud', tls: readTlsFiles(pem.cert, pem.key), port: 0, processMetrics: false, logger: createLogger('silent') });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(await httpsGet(`${server.url}/health`, ca)).toMatchObject({ status: 200 });
      expect((await httpsGet(`${server.url}/metrics`, ca, { 'x-api-key': 'tls-key' })).status).toBe(200);
      // Without the certificate as a trusted CA the client refuses the server.
      await expect(httpsGet(`${server.url}/health`, Buffer.from(''))).rejects.toThrow(/self[- ]signed/i);
      await expect(fetch(server.url.replace('https:', 'http:') + '/health')).rejects.toThrow();
    } finally {
      await server.close();
      await store.close();
      cleanStore();
    }
  });

  it('refuses half a TLS configuration, unreadable files and a key that is not the certificate\'s, naming them', () => {
    expect(readTlsFiles(undefined, undefined)).toBeUndefined();
    expect(thrownSluiceError(() => readTlsFiles(pem.cert, undefined)).message).toBe('HTTPS needs both a certificate and its private key: give --tls-cert and --tls-key (or settings.tls { cert, key }); only the certificate was given');
    expect(thrownSluiceError(() => readTlsFiles(path.join(dir, 'none.crt'), pem.key)).message).toMatch(/cannot read the TLS certificate .*none\.crt: ENOENT/);
    const other = makeCertificate(dir, 'other');
    expect(thrownSluiceError(() => readTlsFiles(pem.cert, other.key)).message).toMatch(/the TLS certificate .*server\.crt and key .*other\.key cannot be used together: .*key values mismatch/);
  });

  it('runs `sluice serve --tls-cert --tls-key` over HTTPS', async () => {
    const project = path.join(dir, 'project');
    fs.mkdirSync(project, { recursive: true });
    fs.writeFileSync(path.join(project, 'sluice.config.ts'), `import { asset, defineProject, fileSource } from 'sluice';
const raw = fileSource('raw', { format: 'parquet', path: 'data/x.parquet' });
export default defineProject({ name: 'tls', assets: [asset('x', { sql: ({ ref }) => \`SELECT * FROM \${ref(raw)}\` })] });
`);
    await writeParquet(path.join(project, 'data/x.parquet'), 'SELECT 1 AS a');
    const server = await startServeProcess(['--tls-cert', pem.cert, '--tls-key', pem.key, '-p', project], { SLUICE_LOG_LEVEL: 'error' });
    let exit: number | null = null;
    try {
      expect(server.url).toMatch(/^https:/);
      expect(await httpsGet(`${server.url}/ready`, ca)).toEqual({ status: 200, body: '{"ready":true}' });
    } finally {
      exit = await server.stop();
    }
    expect(exit).toBe(0);
  });

  it('passes PostgreSQL TLS options through: sslmode=verify-full with sslrootcert reaches a TLS server, and fails without them', async () => {
    const pg = new URL(testPostgresUrl());
    const proxy = await tlsProxy(pem, { host: pg.hostname, port: Number(pg.port || 5432) }, true);
    const schemas = catalogSchemas('sluice_tls');
    try {
      const plain = new URL(schemas.freshUrl());
      const viaTls = new URL(plain);
      viaTls.hostname = 'localhost';
      viaTls.port = String(proxy.port);
      viaTls.searchParams.set('sslmode', 'verify-full');
      viaTls.searchParams.set('sslrootcert', pem.cert);
      const catalog = await openCatalog(viaTls.toString());
      try {
        await catalog.createRun({ id: 'tls-run', project: 'p', startedAt: new Date().toISOString(), args: {} });
        expect(await catalog.getRun('tls-run')).toMatchObject({ id: 'tls-run', status: 'running' });
      } finally {
        await catalog.close();
      }
      expect(proxy.handshakes()).toBeGreaterThan(0);
      // The same server without the CA: the self-signed certificate is refused.
      viaTls.searchParams.delete('sslrootcert');
      await expect(openCatalog(viaTls.toString())).rejects.toThrow(/could not open the catalog .*self[- ]signed certificate/);
      // And the plain server, asked for TLS, says it has none.
      plain.searchParams.set('sslmode', 'require');
      await expect(openCatalog(plain.toString())).rejects.toThrow(/does not support SSL/);
    } finally {
      await schemas.cleanup();
      await proxy.close();
    }
  });

  it('passes a PostgreSQL source\'s TLS options through: an extract reads its table over TLS', async () => {
    const pgs = await createTestSchema('sluice_tls_src');
    const pg = new URL(pgs.url);
    const proxy = await tlsProxy(pem, { host: pg.hostname, port: Number(pg.port || 5432) }, true);
    const { dir: project, cleanup: cleanProject } = makeTempDir('sluice-tls-src-');
    try {
      await pgs.query(`CREATE TABLE "${pgs.schema}".users (id BIGINT PRIMARY KEY, updated_at TIMESTAMPTZ NOT NULL)`);
      await pgs.query(`INSERT INTO "${pgs.schema}".users SELECT i, TIMESTAMPTZ '2026-11-01 00:00:00+00' + i * INTERVAL '1 hour' FROM generate_series(1, 25) i`);
      const url = new URL(pgs.url);
      url.hostname = 'localhost';
      url.port = String(proxy.port);
      url.searchParams.set('sslmode', 'verify-full');
      url.searchParams.set('sslrootcert', pem.cert);
      const source = postgresSource('crm', { url: url.toString(), table: `${pgs.schema}.users`, cursor: 'updated_at', key: 'id' });
      const ws = await openWorkspace(defineProject({ name: 'tls_src', assets: [extractAsset('users', { source })] }), project);
      try {
        const summary = await runAssets(ws);
        expect(summary.status, summary.steps.map((s) => s.error).join('; ')).toBe('success');
        expect(await queryTable(ws, 'users', (t) => `SELECT count(*)::INTEGER AS n FROM ${t}`)).toEqual([{ n: 25 }]);
      } finally {
        await ws.close();
      }
      expect(proxy.handshakes()).toBeGreaterThan(0);
    } finally {
      cleanProject();
      await proxy.close();
      await pgs.drop();
    }
  });

  it('passes Redis TLS through: rediss:// with ca= writes and reads the online store over TLS', async () => {
    const redis = new URL(testRedisUrl());
    const proxy = await tlsProxy(pem, { host: redis.hostname, port: Number(redis.port || 6379) }, false);
    const prefix = `sluice-tls-${process.pid}:`;
    try {
      const store = await openOnlineStore(`rediss://localhost:${proxy.port}/0?prefix=${prefix}&ca=${encodeURIComponent(pem.cert)}`);
      try {
        await store.ping();
        expect(store.location).toBe(`rediss://localhost:${proxy.port}/0?prefix=${prefix}`);
      } finally {
        await store.close();
      }
      expect(proxy.handshakes()).toBeGreaterThan(0);
      await expect(openOnlineStore(`rediss://localhost:${proxy.port}/0?prefix=${prefix}`)).rejects.toThrow(/cannot reach the online store at rediss:\/\/localhost:\d+\/0.*self[- ]signed certificate/);
      await expect(openOnlineStore(`redis://localhost:${proxy.port}/0?ca=${encodeURIComponent(pem.cert)}`)).rejects.toThrow(/ca= needs TLS: use rediss:\/\//);
    } finally {
      await proxy.close();
    }
  });
});
