// OpenLineage in tests: a local HTTP receiver that keeps every event posted to it, and a validator that checks
// an event against the spec's JSON Schema and each of its facets against that facet's own schema.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

export const SPEC_DIR = '/work/shared/conformance/openlineage';

export interface Received {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly event: LineageEvent;
}

/** The fields of a received event the tests read. */
export interface LineageEvent {
  eventType: string;
  eventTime: string;
  run: { runId: string; facets?: Record<string, Record<string, unknown>> };
  job: { namespace: string; name: string; facets?: Record<string, Record<string, unknown>> };
  inputs: Dataset[];
  outputs: Dataset[];
}

export interface Dataset {
  namespace: string;
  name: string;
  facets?: Record<string, Record<string, unknown>>;
  inputFacets?: Record<string, Record<string, unknown>>;
  outputFacets?: Record<string, Record<string, unknown>>;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, event: JSON.parse(Buffer.concat(chunks).toString('utf8')) as LineageEvent });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A port nothing listens on: an endpoint that is down. */
export async function closedPort(): Promise<number> {
  const receiver = await startReceiver();
  await receiver.close();
  return Number(new URL(receiver.url).port);
}

// A CommonJS module: the plugin is its `default` property (module.exports carries it too).
const addFormats = addFormatsModule.default;

export interface Validator {
  /** Every problem of an event: the spec's, then each facet's against its own schema (named by its _schemaURL). */
  problems(event: unknown): string[];
  /** Facet files used, by $id: that every kind the test expects was checked. */
  readonly used: Set<string>;
}

export function openLineageValidator(): Validator {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const properties = new Map<string, string[]>();
  for (const file of fs.readdirSync(SPEC_DIR).filter((f) => f.endsWith('.json'))) {
    const schema = JSON.parse(fs.readFileSync(path.join(SPEC_DIR, file), 'utf8')) as { $id: string; properties?: Record<string, unknown> };
    ajv.addSchema(schema);
    properties.set(schema.$id, Object.keys(schema.properties ?? {}));
  }
  const used = new Set<string>();
  const check = (id: string, value: unknown, where: string): string[] => {
    const validate = ajv.getSchema(id);
    if (validate === undefined) return [`${where}: no schema ${id}`];
    return validate(value) ? [] : [`${where}: ${ajv.errorsText(validate.errors)}`];
  };
  return {
    used,
    problems(event) {
      const problems = check('https://openlineage.io/spec/2-0-2/OpenLineage.json', event, 'event');
      const e = event as LineageEvent;
      const groups: [string, Record<string, Record<string, unknown>> | undefined][] = [
        ['run', e.run.facets], ['job', e.job.facets],
        ...[...e.inputs, ...e.outputs].flatMap((d): [string, Record<string, Record<string, unknown>> | undefined][] => [
          [`${d.name} facets`, d.facets], [`${d.name} inputFacets`, d.inputFacets], [`${d.name} outputFacets`, d.outputFacets],
        ]),
      ];
      for (const [where, facets] of groups) {
        for (const [key, facet] of Object.entries(facets ?? {})) {
          const id = String(facet['_schemaURL']).split('#')[0] ?? '';
          // A facet file's root schema names its key; a key it does not name would validate vacuously.
          if (!(properties.get(id) ?? []).includes(key)) {
            problems.push(`${where}.${key}: ${id} does not define facet "${key}"`);
            continue;
          }
          used.add(id);
          problems.push(...check(id, { [key]: facet }, `${where}.${key}`));
        }
      }
      return problems;
    },
  };
}
