// The serving HTTP API (Fastify): POST /v1/features over readOnlineFeatures, GET /health, GET /metrics, over HTTP or
// HTTPS. A thin shell: it authenticates (access/key-ring.ts), authorizes each route (access/principals.ts), counts
// what each principal read for the audit log, checks the body's shape, calls the feature layer and maps errors to
// status codes; every rule about lookups lives in features/online-read.ts.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fs from 'node:fs';
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { RequestAudit } from '../access/audit.ts';
import { KeyRing } from '../access/key-ring.ts';
import { authorize, type AccessRequest, type Principal } from '../access/principals.ts';
import { legacyPrincipals, parseApiKeys, type ApiKeyConfig } from '../access/api-keys.ts';
import { projectNames } from '../access/serving-access.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import type { Project } from '../define/project.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { asOfMillis, readOnlineFeaturesCounted, type AsOf, type OnlineFeaturesRequest } from '../features/online-read.ts';
import type { EventStream } from '../define/stream.ts';
import { parseEvent } from '../stream/event-schema.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import { createServingMetrics } from './metrics.ts';

export interface ServerOptions {
  readonly project: Project;
  /** The caller opened the store and closes it after the server. */
  readonly store: OnlineStore;
  /**
   * Who may call the API: a key ring (principals file and older keys; the caller opened it and closes it), or
   * only older-style keys, parsed or as `key=svc1|svc2,key2=*` text. No keys at all: the API is open to anyone.
   */
  readonly access?: KeyRing | undefined;
  readonly apiKeys?: ApiKeyConfig | string | undefined;
  /** Count what each principal reads and sends, per minute, into this catalog's audit log (flushed every `auditFlushMs`, default 10 s, and on close). */
  readonly audit?: Catalog | undefined;
  readonly auditFlushMs?: number | undefined;
  /** Serve HTTPS with this certificate (chain) and private key, PEM. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  /** Default: warnings and errors to stderr. */
  readonly logger?: Logger | undefined;
  /** Largest number of entities in one lookup (default 1000). */
  readonly maxEntities?: number | undefined;
  /** Answer lookups as of this time unless a request gives its own `asOf` (default: now); for backtests and demos. */
  readonly asOf?: AsOf | undefined;
  /** Also export Node's process metrics (CPU, memory, event loop lag) on /metrics (default true). */
  readonly processMetrics?: boolean | undefined;
  /**
   * Turns on `POST /v1/events/<stream>`: checked events are handed here (e.g. published to the stream's
   * JetStream subjects); returns how many were accepted.
   */
  readonly ingest?: ((stream: EventStream, events: readonly string[]) => Promise<number>) | undefined;
  /** With `ingest`: resolves when the event broker (NATS) answers, for /health and /ready. */
  readonly ingestHealth?: (() => Promise<void>) | undefined;
  /**
   * Longest a client may take to send a whole request, headers and body (default 10 s): a client that sends
   * headers and never the body is cut off instead of holding a socket. Idle keep-alive sockets close after
   * `keepAliveTimeoutMs` (default 5 s).
   */
  readonly requestTimeoutMs?: number | undefined;
  readonly keepAliveTimeoutMs?: number | undefined;
}

/** How long /health and /ready wait for a dependency's answer. */
const HEALTH_TIMEOUT_MS = 1_000;

/** An HTTP error the server raises itself (authentication, routing), with the code clients see. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string, readonly fields: Readonly<Record<string, string>> = {}) {
    super(message);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request arrived, for the latency histogram. */
    sluiceStart: number;
    /** Who sent the request; undefined when the server has no keys (anyone may do anything). */
    sluicePrincipal: Principal | undefined;
    /** Which of the principal's keys. */
    sluiceKeyId: string | null;
  }
}

// The body's shape only; keys, types, batch size and request fields are checked per service by the feature
// layer, which can name the service's keys in its messages.
const lookupSchema = {
  type: 'object',
  required: ['service', 'entities'],
  additionalProperties: false,
  properties: {
    service: { type: 'string', minLength: 1 },
    entities: { type: 'array', minItems: 1, items: { type: 'object' } },
    request: { type: 'object' },
    features: { type: 'array', minItems: 1, items: { type: 'string' } },
    asOf: { anyOf: [{ type: 'string' }, { type: 'number' }] },
  },
} as const;

const ROUTES = 'POST /v1/features, POST /v1/events/<stream>, GET /health, GET /ready, GET /metrics';
/** Who the audit log names when the server has no keys, or for a request without a valid key. */
const ANONYMOUS = 'anonymous';
/** Most events in one ingest request. */
const MAX_INGEST_EVENTS = 10_000;

/** Build the API (not listening): for `app.inject` in tests, or `startServer`. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { project, store } = options;
  const logger = options.logger ?? createLogger('warn');
  // A ring built here from older-style keys is the server's own, closed with it; a ring passed in is the caller's.
  const ownRing = options.access === undefined;
  const ring = options.access ?? new KeyRing({
    fixed: legacyPrincipals(typeof options.apiKeys === 'string' ? parseApiKeys(options.apiKeys) : options.apiKeys ?? { grants: new Map() }, 'SLUICE_API_KEYS', new Set(project.eventStreams.keys())),
    known: projectNames(project),
  });
  if (options.asOf !== undefined) asOfMillis(options.asOf, 'the server\'s asOf');
  const open = ring.open;
  if (open) logger.warn('no API keys configured (principals file, SLUICE_API_KEYS): the feature API is open to anyone who can reach it');
  const audit = options.audit === undefined ? undefined : new RequestAudit({ catalog: options.audit, flushMs: options.auditFlushMs, logger });
  const metrics = createServingMetrics({ defaultMetrics: options.processMetrics !== false });
  const serviceLabel = (name: unknown): string => (typeof name === 'string' && project.featureServices.has(name) ? name : 'unknown');

  // Fastify's own logger stays off: no per-request child loggers or request lines on the hot path.
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const app = Fastify({
    logger: false,
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often enough
    // that a stalled body is answered 408 close to its deadline; sockets idle past 6 deadlines are closed.
    serverFactory: (handler) => {
      const serverOptions = {
        requestTimeout,
        headersTimeout: requestTimeout,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeout / 2))),
      };
      const server = options.tls === undefined ? http.createServer(serverOptions, handler) : https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, handler);
      return server.setTimeout(requestTimeout * 6);
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.decorateRequest('sluiceStart', 0);
  app.decorateRequest('sluicePrincipal', undefined);
  app.decorateRequest('sluiceKeyId', null);
  app.addHook('onClose', async () => {
    if (ownRing) ring.close();
    await audit?.close();
  });

  const routeOf = (request: FastifyRequest): string => `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0] ?? ''}`;

  // Callback-style hooks: no promise per request on the hot path.
  const authenticate = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    request.sluiceStart = performance.now();
    if (open) return done();
    const key = presentedKey(request);
    const result = key === undefined ? undefined : ring.authenticate(key);
    if (result?.ok !== true) {
      audit?.count(ANONYMOUS, null, 'denied', routeOf(request));
      return done(new HttpError(401, 'UNAUTHORIZED', result?.reason ?? 'an API key is required: send it in the x-api-key header or as Authorization: Bearer <key>'));
    }
    request.sluicePrincipal = result.principal;
    request.sluiceKeyId = result.keyId;
    done();
  };

  /** 403 unless the request's principal may do `wanted`; the message names the principal, the route and the missing grant. */
  const allow = (request: FastifyRequest, wanted: AccessRequest, what: string): void => {
    const denied = denial(request, wanted, what, routeOf(request));
    if (denied === undefined) return;
    audit?.count(request.sluicePrincipal?.name ?? ANONYMOUS, request.sluiceKeyId, 'denied', routeOf(request));
    throw denied;
  };
  const countFor = (request: FastifyRequest, action: 'read' | 'ingest', target: string): void => {
    audit?.count(request.sluicePrincipal?.name ?? ANONYMOUS, request.sluiceKeyId, action, target);
  };

  app.post<{ Body: OnlineFeaturesRequest }>('/v1/features', {
    schema: { body: lookupSchema },
    onRequest: authenticate,
    onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const service = serviceLabel((request.body as { service?: unknown } | undefined)?.service);
      metrics.observeRequest(service, reply.statusCode, (performance.now() - request.sluiceStart) / 1000);
      done();
    },
  }, async (request) => {
    const service = request.body.service;
    allow(request, { action: 'read', service }, `read feature service "${service}"`);
    const { response, counts } = await readOnlineFeaturesCounted(project, store, request.body, { maxEntities: options.maxEntities, asOf: options.asOf });
    metrics.countLookups(response.service, counts);
    countFor(request, 'read', `service:${response.service}`);
    return response;
  });

  app.post<{ Params: { stream: string }; Body: unknown }>('/v1/events/:stream', { onRequest: authenticate }, async (request, reply) => {
    const name = request.params.stream;
    const stream = project.eventStreams.get(name);
    if (stream === undefined) {
      throw new HttpError(404, 'NOT_FOUND', `no event stream "${name}" in project "${project.name}"; streams: ${[...project.eventStreams.keys()].join(', ') || '(none)'}`);
    }
    allow(request, { action: 'ingest', stream: name }, `send events to stream "${name}"`);
    if (options.ingest === undefined) throw new HttpError(503, 'INGEST_OFF', 'event ingest is off: start the server with `sluice serve --ingest` (it publishes to NATS JetStream, SLUICE_NATS_URL)');
    const body = request.body;
    const events = Array.isArray(body) ? body : [body];
    if (events.length === 0 || events.length > MAX_INGEST_EVENTS) throw new HttpError(400, 'EVENT_INVALID', `send 1 to ${MAX_INGEST_EVENTS} events: one JSON object, or an array of them`);
    const lines = events.map((event) => JSON.stringify(event));
    const rejected = lines.flatMap((line, index) => {
      const parsed = parseEvent(stream, line);
      return parsed.ok ? [] : [{ index, field: parsed.field, reason: parsed.reason }];
    });
    if (rejected.length > 0) {
      // Nothing is published: the client sees every reason and can resend the batch fixed.
      return reply.code(400).send({ error: 'EVENT_INVALID', message: `${rejected.length} of ${lines.length} event(s) do not fit stream "${name}"; none was accepted; first: event ${rejected[0]?.index ?? 0}: ${rejected[0]?.reason ?? ''}`, rejected: rejected.slice(0, 100) });
    }
    const accepted = await options.ingest(stream, lines);
    countFor(request, 'ingest', `stream:${name}`);
    return reply.code(202).send({ stream: name, accepted });
  });

  // /health says what each dependency answered; /ready is the same verdict with a small body, for load balancers.
  const dependencies = async (): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; error?: string }> }> => {
    const probe = async (fn: () => Promise<void>): Promise<{ ok: boolean; error?: string }> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([fn(), new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS); })]);
        return { ok: true };
      } catch (error) {
        return { ok: false, error: errorMessage(error) };
      } finally {
        clearTimeout(timer);
      }
    };
    const checks: Record<string, { ok: boolean; error?: string }> = { onlineStore: await probe(() => store.ping()) };
    if (options.ingestHealth !== undefined) checks['eventBroker'] = await probe(options.ingestHealth);
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  };
  app.get('/health', async (_request, reply) => {
    const { ok, checks } = await dependencies();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', store: store.kind, checks, services: [...project.featureServices.keys()] });
  });
  app.get('/ready', async (_request, reply) => {
    const { ok } = await dependencies();
    return reply.code(ok ? 200 : 503).send({ ready: ok });
  });

  // /health and /ready stay open for load balancers' probes: they say only whether dependencies answer.
  app.get('/metrics', { onRequest: authenticate }, async (request, reply) => {
    allow(request, { action: 'observe' }, 'read metrics');
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.setNotFoundHandler(async (request, reply) => {
    return reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}; routes: ${ROUTES}` });
  });

  app.setErrorHandler(async (error: unknown, request, reply) => {
    const { statusCode, body } = errorResponse(error);
    if (request.routeOptions.url === '/v1/features') {
      metrics.countError(serviceLabel((request.body as { service?: unknown } | undefined)?.service), body.error);
    }
    if (statusCode >= 500) logger.error({ err: error, url: request.url, statusCode }, 'feature request failed');
    else logger.debug({ url: request.url, statusCode, error: body.message }, 'feature request rejected');
    return reply.code(statusCode).send(body);
  });

  return app;
}

/** The 403 when the request's principal may not do `wanted`, naming the principal, the route and the missing grant; undefined when it may (or the API is open). */
export function denial(request: FastifyRequest, wanted: AccessRequest, what: string, route: string): HttpError | undefined {
  const principal = request.sluicePrincipal;
  if (principal === undefined) return undefined;
  const decision = authorize(principal, wanted);
  if (decision.allowed) return undefined;
  return new HttpError(403, 'FORBIDDEN', `principal "${principal.name}" may not ${what} (${route}): it needs ${decision.missing}; ask an admin to grant it`, { principal: principal.name, route, missing: decision.missing });
}

/** The API key a request presents: `x-api-key`, or `Authorization: Bearer <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  if (authorization !== undefined && /^bearer\s+/i.test(authorization)) {
    const token = authorization.replace(/^bearer\s+/i, '').trim();
    return token === '' ? undefined : token;
  }
  return undefined;
}

/** Status and body for an error: clients see what they can fix, never internals. */
function errorResponse(error: unknown): { statusCode: number; body: { error: string; message: string } } {
  if (error instanceof HttpError) return { statusCode: error.statusCode, body: { error: error.code, message: error.message, ...error.fields } };
  if (error instanceof SluiceError) {
    if (error.code === 'FEATURE_REQUEST' || error.code === 'FEATURE_NOT_FOUND') return { statusCode: 400, body: { error: error.code, message: error.message } };
    if (error.code === 'ONLINE_STORE' || error.transient) {
      return { statusCode: 503, body: { error: 'ONLINE_STORE', message: 'the online store could not be read; retry shortly' } };
    }
    return { statusCode: 500, body: { error: 'INTERNAL', message: 'internal error; the server log has the details' } };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    return { statusCode: 400, body: { error: 'FEATURE_REQUEST', message: validationMessage(fastifyError.validation) } };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return { statusCode: 400, body: { error: 'FEATURE_REQUEST', message: `the request body is not valid JSON: ${fastifyError.message ?? ''}` } };
    }
    const name = (STATUS_CODES[status] ?? 'Bad Request').toUpperCase().replace(/[^A-Z]+/g, '_');
    return { statusCode: status, body: { error: name, message: fastifyError.message ?? name } };
  }
  return { statusCode: 500, body: { error: 'INTERNAL', message: 'internal error; the server log has the details' } };
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

function validationMessage(issues: readonly ValidationIssue[]): string {
  const issue = issues[0];
  if (issue === undefined) return 'the request body is not a valid lookup';
  const where = `body${issue.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
  const shape = 'a lookup is { "service": "<name>", "entities": [{ <keys> }, ...], "request"?: { ... }, "features"?: ["<feature>", ...] }';
  const params = issue.params;
  if (issue.keyword === 'additionalProperties') return `${where} has an unknown field "${String(params['additionalProperty'])}"; ${shape}`;
  if (issue.keyword === 'required') return `${where} is missing "${String(params['missingProperty'])}"; ${shape}`;
  return `${where} ${issue.message ?? 'is invalid'}; ${shape}`;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  /** http://host:port, with the port actually bound (useful with port 0). */
  readonly url: string;
  /** Stop accepting requests and wait for those in flight; the store stays open (its opener closes it). */
  close(): Promise<void>;
}

/** Build the API and listen. */
export async function startServer(options: ServerOptions & { readonly host?: string; readonly port?: number }): Promise<RunningServer> {
  const logger = options.logger ?? createLogger('info');
  const app = buildServer({ ...options, logger });
  const running = await listen(app, options.host, options.port ?? 8080, options.tls !== undefined);
  logger.info({ url: running.url, services: [...options.project.featureServices.keys()], store: options.store.kind }, 'feature server listening');
  return running;
}

/** Listen on host (default 127.0.0.1) and port; the app is closed if that fails. */
export async function listen(app: FastifyInstance, host = '127.0.0.1', port: number, secure = false): Promise<RunningServer> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const url = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  return { app, url, close: () => app.close() };
}

/** Read the PEM files `sluice serve --tls-cert/--tls-key` (or settings.tls) name; both or neither. */
export function readTlsFiles(cert: string | undefined, key: string | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new SluiceError('CONFIG_INVALID', `HTTPS needs both a certificate and its private key: give --tls-cert and --tls-key (or settings.tls { cert, key }); only ${cert === undefined ? 'the key' : 'the certificate'} was given`);
  }
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new SluiceError('CONFIG_INVALID', `cannot read the TLS ${what} ${file}: ${errorMessage(error)}; give a PEM file (e.g. made with openssl req -x509)`, { file });
    }
  };
  const pair = { cert: read(cert, 'certificate'), key: read(key, 'private key') };
  try {
    tls.createSecureContext(pair);
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `the TLS certificate ${cert} and key ${key} cannot be used together: ${errorMessage(error)}; give PEM files of one certificate and its own private key`, { file: cert });
  }
  return pair;
}
