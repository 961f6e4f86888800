// Compile sluice to dist/ (run by `npm ci`/`npm install` as the prepare script) so the CLI starts without
// compiling TypeScript: tsc with the .ts import specifiers rewritten to .js, the .mjs entry files copied,
// the web UI bundled by esbuild, and a stamp the CLI compares with the sources' modification times (stale: it runs the sources).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  fs.rmSync(dist, { recursive: true, force: true });
  process.exit(tsc.status ?? 1);
}
for (const file of fs.readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })) {
  if (file.endsWith('.mjs')) fs.copyFileSync(path.join(root, 'src', file), path.join(dist, file));
}
// The web UI's front end: bundled by esbuild (its TypeScript is checked by `tsc -p src/ui`).
const { bundleUi } = await import('./bundle-ui.mjs');
await bundleUi({ outdir: path.join(dist, 'ui') });
fs.writeFileSync(path.join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
