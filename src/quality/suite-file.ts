// Loading a suite from a file: GX's JSON suite form (`.json`), or a TypeScript module (`.ts`) whose default
// export is a suite or a list of expectations (built with `expect.*`).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExpectationConfig, Suite } from '../define/checks.ts';
import { parseSuite } from '../define/expect.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { registerHooks } from '../load-project.ts';

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
    return parseSuite(json, full);
  }
  if (/\.[cm]?ts$/.test(full)) {
    await registerHooks();
    const module = (await import(pathToFileURL(full).href)) as { default?: unknown };
    const value = module.default;
    const suite: unknown = Array.isArray(value) ? { name: path.basename(full).replace(/\.[cm]?ts$/, ''), expectations: value as ExpectationConfig[] } : value;
    if (typeof suite !== 'object' || suite === null) {
      throw new SluiceError('DEFINITION_INVALID', `suite file ${full} must \`export default suite('name', [...])\` or a list of expectations`, { file: full });
    }
    return parseSuite(suite, full);
  }
  throw new SluiceError('CONFIG_INVALID', `suite file ${full}: use a .json (GX suite) or .ts file`, { file: full });
}
