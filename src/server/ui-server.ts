// `sluice ui`'s HTTP server (Fastify): the front end's few built files at /, and its JSON API under /api
// (ui-api.ts). Every /api route authenticates as the feature server does (access/key-ring.ts); actions started
// from the UI run in the background and are awaited when the server closes.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AccessRequest } from '../access/principals.ts';
import type { KeyRing } from '../access/key-ring.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import { denial, HttpError, listen, presentedKey, type RunningServer } from './server.ts';
import { registerUiApi } from './ui-api.ts';
import { loadUiBundle, type UiBundle } from './ui-bundle.ts';

export interface UiServerOptions {
  readonly ws: Workspace;
  /** Who may use the UI; the caller opened it and closes it. Open (no keys): anyone, with a warning. */
  readonly access: KeyRing;
  readonly store?: OnlineStore | undefined;
  readonly logger: Logger;
  /** The built front end (default: dist/ui, or bundled from src/ui when running from the sources). */
  readonly bundle?: UiBundle | undefined;
  readonly pollMs?: number | undefined;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };

export async function buildUiServer(options: UiServerOptions): Promise<FastifyInstance> {
  const { ws, access, logger } = options;
  const bundle = options.bundle ?? await loadUiBundle();
  if (access.open) logger.warn('no API keys configured (principals file, SLUICE_API_KEYS): the UI and its actions are open to anyone who can reach it');
  const app = Fastify({ logger: false });
  app.decorateRequest('sluicePrincipal', undefined);
  app.decorateRequest('sluiceKeyId', null);
  const running = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...running]);
  });

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    if (!request.url.startsWith('/api/') || access.open) return done();
    const key = presentedKey(request);
    const result = key === undefined ? undefined : access.authenticate(key);
    if (result?.ok !== true) return done(new HttpError(401, 'UNAUTHORIZED', result?.reason ?? 'an API key is required: enter it in the UI\'s key box (sent as the x-api-key header)'));
    request.sluicePrincipal = result.principal;
    request.sluiceKeyId = result.keyId;
    done();
  });
  const allow = (request: FastifyRequest, wanted: AccessRequest, what: string): void => {
    const denied = denial(request, wanted, what, `${request.method} ${request.routeOptions.url ?? request.url}`);
    if (denied !== undefined) throw denied;
  };
  const background = (name: string, work: () => Promise<unknown>): void => {
    const task = work().catch((error: unknown) => logger.error({ err: errorMessage(error) }, `${name} failed`)).finally(() => running.delete(task));
    running.add(task);
  };
  registerUiApi(app, { ws, store: options.store, allow, background, ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }) });

  app.get('/api/whoami', (request) => Promise.resolve({ principal: request.sluicePrincipal?.name ?? null, role: request.sluicePrincipal?.role ?? null, open: access.open }));
  app.get<{ Params: { file: string } }>('/:file', async (request, reply) => {
    const text = bundle.files[request.params.file];
    if (text === undefined) return reply.code(200).type('text/html; charset=utf-8').send(bundle.index);
    return reply.type(CONTENT_TYPES[request.params.file] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(text);
  });
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(bundle.index));

  app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}; the UI's API is under /api` }));
  app.setErrorHandler(async (error: unknown, request, reply) => {
    const { statusCode, body } = uiErrorResponse(error);
    if (statusCode >= 500) logger.error({ err: error, url: request.url }, 'UI request failed');
    return reply.code(statusCode).send(body);
  });
  return app;
}

/** Definition and request mistakes are the user's to fix, so their message is shown; anything else is internal. */
function uiErrorResponse(error: unknown): { statusCode: number; body: Record<string, string> } {
  if (error instanceof HttpError) return { statusCode: error.statusCode, body: { error: error.code, message: error.message, ...error.fields } };
  if (error instanceof SluiceError) {
    if (error.transient) return { statusCode: 503, body: { error: error.code, message: `${error.message}; retry shortly` } };
    const notFound = /^no |not found|unknown/i.test(error.message);
    return { statusCode: notFound ? 404 : 400, body: { error: error.code, message: error.message } };
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { statusCode: status, body: { error: 'BAD_REQUEST', message: errorMessage(error) } };
  return { statusCode: 500, body: { error: 'INTERNAL', message: 'internal error; the server log has the details' } };
}

export async function startUiServer(options: UiServerOptions & { readonly host?: string; readonly port?: number }): Promise<RunningServer> {
  return listen(await buildUiServer(options), options.host, options.port ?? 3000);
}
