#!/usr/bin/env node
// The `sluice` command. It runs the compiled JavaScript in dist/ (built by `npm ci`), or, when dist/ is missing
// or older than a source file (a checkout being edited), the TypeScript sources through tsx. SLUICE_FROM_SOURCE=1
// forces the sources. A project's sluice.config.ts is compiled by tsx either way (see load-project.ts).
import fs from 'node:fs';

// A reader that stopped reading (`sluice show x | head -1`) is not an error: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw error;
  });
}

/** The newest modification time under a folder (ms), at most one stat per file. */
function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) latest = Math.max(latest, fs.statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  }
  return latest;
}

function compiledIsFresh() {
  if (process.env.SLUICE_FROM_SOURCE === '1') return false;
  try {
    return fs.statSync(new URL('../dist/.build-stamp', import.meta.url)).mtimeMs >= newest(new URL('../src', import.meta.url).pathname);
  } catch {
    return false;
  }
}

let main;
if (compiledIsFresh()) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv);
