// The one module that reads environment variables: every setting, its default and its validation.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { SluiceError } from './errors.ts';

const envSchema = z.object({
  SLUICE_HOME: z.string().min(1).optional(),
  SLUICE_CATALOG_URL: z.string().min(1).optional(),
  SLUICE_MEMORY_LIMIT: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 4GB').optional(),
  SLUICE_TEMP_DIR: z.string().min(1).optional(),
  SLUICE_THREADS: z.coerce.number().int().positive().optional(),
  SLUICE_CONCURRENCY: z.coerce.number().int().positive().optional(),
  SLUICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  SLUICE_LOG_FORMAT: z.enum(['json', 'human']).optional(),
  SLUICE_TEST_PG_URL: z.string().min(1).optional(),
  /** Comma-separated webhook URLs that receive data-quality and run-failure alerts. */
  SLUICE_ALERT_WEBHOOKS: z.string().optional(),
  /** The online feature store: `sqlite:<file>` (default `<state>/online.db`) or `redis://host:port/db?prefix=p:`. */
  SLUICE_ONLINE_URL: z.string().regex(/^(sqlite:|rediss?:\/\/)/, 'sqlite:<file> or redis://host:port').optional(),
  /** API keys for `sluice serve`: `key=service1|service2,key2=*` (`*`: every service). */
  SLUICE_API_KEYS: z.string().optional(),
  /** The principals file (roles, grants, hashed API keys); `<state>/access.json` by default. */
  SLUICE_ACCESS_FILE: z.string().min(1).optional(),
  /** Who runs commands, for the audit log; the OS user by default. */
  SLUICE_PRINCIPAL: z.string().min(1).optional(),
  /** Redis used by tests that need it. */
  SLUICE_TEST_REDIS_URL: z.string().min(1).optional(),
  /** NATS with JetStream for `sluice stream`: `nats://[user:pass@]host:port`. */
  SLUICE_NATS_URL: z.string().regex(/^(nats|tls):\/\//, 'nats://host:port').optional(),
  /** NATS used by tests that need it. */
  SLUICE_TEST_NATS_URL: z.string().min(1).optional(),
  /** The step queue for `sluice worker` processes: `redis://host:port/db?prefix=p` (BullMQ); in process when absent. */
  SLUICE_QUEUE_URL: z.string().regex(/^rediss?:\/\//, 'redis://host:port (optionally /db and ?prefix=name)').optional(),
  /** Redis used by queue tests. */
  SLUICE_TEST_QUEUE_URL: z.string().min(1).optional(),
  /** An OpenLineage HTTP endpoint (`http://host:port`, posted to at /api/v1/lineage, or a full URL with its path). */
  SLUICE_OPENLINEAGE_URL: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://localhost:5000' }).optional(),
});

/** Where OpenLineage events go: the endpoint, the job namespace, and a bearer token when one is configured. */
export interface OpenLineageSettings {
  readonly url: string;
  /** Undefined: the project's name. */
  readonly namespace: string | undefined;
  /** The env var named by `openlineage.apiKeyEnv`, and its value (undefined when unset: events wait in the outbox). */
  readonly apiKeyEnv: string | undefined;
  readonly apiKey: string | undefined;
}

export interface Settings {
  /** Directory holding sluice state: catalog.db, tables/, dead-letter/, staging. */
  readonly stateDir: string;
  /** `sqlite:<file>` by default, or a postgres:// URL. */
  readonly catalogUrl: string;
  readonly memoryLimit: string | undefined;
  readonly tempDir: string;
  readonly threads: number | undefined;
  readonly concurrency: number;
  readonly logLevel: string;
  /** human: one readable line per entry (the default on a terminal); json: pino's JSON lines (otherwise). */
  readonly logFormat: 'json' | 'human';
  readonly alertWebhooks: readonly string[];
  /** `sqlite:<file>` by default, or a redis:// URL. */
  readonly onlineUrl: string;
  /** Raw SLUICE_API_KEYS, parsed by the server. */
  readonly apiKeys: string | undefined;
  /** NATS JetStream for stream sources, `nats://127.0.0.1:4222` by default. */
  readonly natsUrl: string;
  /** Redis holding the step queue: steps run on `sluice worker` processes. In process when undefined. */
  readonly queueUrl: string | undefined;
  /** OpenLineage events are sent when set (SLUICE_OPENLINEAGE_URL or the project's `openlineage.url`). */
  readonly openLineage: OpenLineageSettings | undefined;
  /** The principals file named by settings.access or SLUICE_ACCESS_FILE; undefined: `<state>/access.json` if it exists. */
  readonly accessFile: string | undefined;
  /** Who runs this process's commands, as the audit log records it: SLUICE_PRINCIPAL, else the OS user. */
  readonly principal: string;
}

export interface SettingsOverrides {
  readonly stateDir?: string | undefined;
  readonly catalogUrl?: string | undefined;
  readonly memoryLimit?: string | undefined;
  readonly tempDir?: string | undefined;
  readonly threads?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly onlineUrl?: string | undefined;
  /** A queue URL, or null to run steps in process whatever SLUICE_QUEUE_URL says. */
  readonly queueUrl?: string | null | undefined;
  /** `--json` asks for JSON logs too. */
  readonly logFormat?: 'json' | 'human' | undefined;
  /** The project's `openlineage` settings; SLUICE_OPENLINEAGE_URL wins over its url. */
  readonly openLineage?: { readonly url?: string | undefined; readonly namespace?: string | undefined; readonly apiKeyEnv?: string | undefined } | undefined;
  /** The principals file, relative to the project directory. */
  readonly accessFile?: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): z.infer<typeof envSchema> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SluiceError('CONFIG_INVALID', `environment variable ${String(issue?.path[0])}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Resolve settings: explicit overrides (project file, CLI flags) win over env, env over defaults. */
export function resolveSettings(projectDir: string, overrides: SettingsOverrides = {}, env: NodeJS.ProcessEnv = process.env, terminal: boolean = process.stderr.isTTY): Settings {
  const e = readEnv(env);
  const stateDir = path.resolve(projectDir, overrides.stateDir ?? e.SLUICE_HOME ?? '.sluice');
  return {
    stateDir,
    catalogUrl: overrides.catalogUrl ?? e.SLUICE_CATALOG_URL ?? `sqlite:${path.join(stateDir, 'catalog.db')}`,
    memoryLimit: overrides.memoryLimit ?? e.SLUICE_MEMORY_LIMIT,
    tempDir: path.resolve(projectDir, overrides.tempDir ?? e.SLUICE_TEMP_DIR ?? path.join(stateDir, 'tmp')),
    threads: overrides.threads ?? e.SLUICE_THREADS,
    concurrency: overrides.concurrency ?? e.SLUICE_CONCURRENCY ?? 2,
    // On a terminal, readable lines of warnings and errors; elsewhere (CI, files, --json) JSON lines from info up.
    ...((format) => ({ logFormat: format, logLevel: e.SLUICE_LOG_LEVEL ?? (format === 'human' ? 'warn' : 'info') }))(overrides.logFormat ?? e.SLUICE_LOG_FORMAT ?? (terminal ? 'human' : 'json')),
    alertWebhooks: (e.SLUICE_ALERT_WEBHOOKS ?? '').split(',').map((u) => u.trim()).filter((u) => u !== ''),
    onlineUrl: overrides.onlineUrl ?? e.SLUICE_ONLINE_URL ?? `sqlite:${path.join(stateDir, 'online.db')}`,
    apiKeys: e.SLUICE_API_KEYS,
    natsUrl: e.SLUICE_NATS_URL ?? 'nats://127.0.0.1:4222',
    queueUrl: overrides.queueUrl === null ? undefined : overrides.queueUrl ?? e.SLUICE_QUEUE_URL,
    openLineage: openLineageSettings(e.SLUICE_OPENLINEAGE_URL, overrides.openLineage, env),
    accessFile: ((file) => (file === undefined ? undefined : path.resolve(projectDir, file)))(overrides.accessFile ?? e.SLUICE_ACCESS_FILE),
    principal: e.SLUICE_PRINCIPAL ?? osUser(),
  };
}

/** The OS user's name; `unknown` where the system has none for this uid (some containers). */
function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

function openLineageSettings(envUrl: string | undefined, project: SettingsOverrides['openLineage'], env: NodeJS.ProcessEnv): OpenLineageSettings | undefined {
  const url = envUrl ?? project?.url;
  if (url === undefined) return undefined;
  const keyEnv = project?.apiKeyEnv;
  return { url, namespace: project?.namespace, apiKeyEnv: keyEnv, apiKey: keyEnv === undefined ? undefined : readNamedEnv(keyEnv, env) };
}

/**
 * An environment variable a definition names (a source's URL, an API token): the user chooses the name, so it
 * cannot be in the schema above. Empty counts as unset.
 */
export function readNamedEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** PostgreSQL used by tests that need it; a user can point it elsewhere. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return readEnv(env).SLUICE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** Redis used by tests that need it; a user can point it elsewhere. */
export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return readEnv(env).SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** NATS (with JetStream) used by tests that need it; a user can point it elsewhere. */
export function testNatsUrl(env: NodeJS.ProcessEnv = process.env): string {
  return readEnv(env).SLUICE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
}

/** Redis for the step-queue tests; a user can point it elsewhere. Tests add their own `?prefix=`. */
export function testQueueUrl(env: NodeJS.ProcessEnv = process.env): string {
  return readEnv(env).SLUICE_TEST_QUEUE_URL ?? testRedisUrl(env);
}
