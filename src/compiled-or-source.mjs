// Loading a module the way bin/sluice.mjs runs sluice: the compiled `.js` beside the caller (in dist/), or the
// TypeScript source through tsx (in src/). Used by the worker-thread entries.
import fs from 'node:fs';

/** Import `<base>.js` when it exists, else `<base>.ts` through tsx; `base` is a URL without extension. */
export async function importCompiledOrSource(base) {
  const compiled = new URL(`${base.href}.js`);
  if (fs.existsSync(compiled)) return import(compiled.href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(`${base.href}.ts`);
}
