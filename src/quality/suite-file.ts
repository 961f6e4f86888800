// Loading a suite from a file: GX's JSON suite form (`.json`), or a TypeScript module (`.ts`) whose default
// export is a suite or a list of expectations (built with `expect.*`).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExpectationConfig, Suite } from '../define/checks.ts';
import { parseSuite } from '../define/expect.ts';
import { isStatistical, parseStatisticalKwargs } from '../define/expect-statistical.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { registerHooks } from '../load-project.ts';

/** GX's suite parser, extended with sluice's statistical expectation types (kept in place, in order). */
export function parseSuiteWithStatistical(json: unknown, source: string): Suite {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { expectations?: unknown }).expectations)) return parseSuite(json, source);
  const all = (json as { expectations: unknown[] }).expectations;
  const typeOf = (e: unknown): string => {
    const record = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    const type = record['type'] ?? record['expectation_type'];
    return typeof type === 'string' ? type : '';
  };
  const gx = parseSuite({ ...json, expectations: all.filter((e) => !isStatistical(typeOf(e))) }, source);
  let next = 0;
  const expectations = all.map((e, i): ExpectationConfig => {
    const type = typeOf(e);
    if (!isStatistical(type)) return gx.expectations[next++] as ExpectationConfig;
    const record = e as Record<string, unknown>;
    const meta = (record['meta'] ?? {}) as Record<string, unknown>;
    parseStatisticalKwargs(type, record['kwargs'] ?? {}, `suite ${source} expectations[${i}]`);
    return { type, kwargs: (record['kwargs'] ?? {}) as Record<string, unknown>, meta: { ...meta, severity: meta['severity'] === 'warn' ? 'warn' : 'error' } };
  });
  return { name: gx.name, expectations };
}

export async function loadSuiteFile(file: string): Promise<Suite> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new SluiceError('CONFIG_INVALID', `suite file ${full} does not exist`, { file: full });
  if (full.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch (error) {
      throw new SluiceError('DEFINITION_INVALID', `suite file ${full} is not valid JSON: ${errorMessage(error)}`, { file: full });
    }
    return parseSuiteWithStatistical(json, full);
  }
  if (/\.[cm]?ts$/.test(full)) {
    await registerHooks();
    const module = (await import(pathToFileURL(full).href)) as { default?: unknown };
    const value = module.default;
    const suite: unknown = Array.isArray(value) ? { name: path.basename(full).replace(/\.[cm]?ts$/, ''), expectations: value as ExpectationConfig[] } : value;
    if (typeof suite !== 'object' || suite === null) {
      throw new SluiceError('DEFINITION_INVALID', `suite file ${full} must \`export default suite('name', [...])\` or a list of expectations`, { file: full });
    }
    return parseSuiteWithStatistical(suite, full);
  }
  throw new SluiceError('CONFIG_INVALID', `suite file ${full}: use a .json (GX suite) or .ts file`, { file: full });
}
