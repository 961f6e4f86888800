// The web UI's front end (src/ui, Preact + TSX) bundled by esbuild into one script and one stylesheet: written
// to dist/ui by scripts/build.mjs (`npm ci`), or built in memory by the server when it runs from the sources.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Bundle src/ui/main.tsx; with `outdir` the files are written there, else returned. */
export async function bundleUi({ outdir } = {}) {
  const result = await esbuild.build({
    entryPoints: { app: path.join(root, 'src', 'ui', 'main.tsx') },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    outdir: outdir ?? path.join(root, 'dist', 'ui'),
    write: outdir !== undefined,
  });
  const files = {};
  for (const file of result.outputFiles ?? []) files[path.basename(file.path)] = file.text;
  return files;
}
