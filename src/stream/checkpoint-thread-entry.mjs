// Entry of a worker thread: the compiled module beside it (dist/), or the TypeScript source through tsx
// (src/), as in bin/sluice.mjs.
import fs from 'node:fs';

const compiled = new URL('./checkpoint-thread-worker.js', import.meta.url);
if (fs.existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./checkpoint-thread-worker.ts');
}
