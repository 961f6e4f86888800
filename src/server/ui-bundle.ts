// The web UI's built front end: dist/ui (bundled by `npm ci`'s build) beside the compiled server, or, when
// the server runs from the sources, bundled from src/ui in memory by esbuild (scripts/bundle-ui.mjs) once.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface UiBundle {
  readonly index: string;
  /** app.js, app.css. */
  readonly files: Readonly<Record<string, string>>;
}

const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sluice</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

let cached: Promise<UiBundle> | undefined;

export function loadUiBundle(): Promise<UiBundle> {
  cached ??= load();
  return cached;
}

async function load(): Promise<UiBundle> {
  const built = fileURLToPath(new URL('../ui/', import.meta.url));
  if (fs.existsSync(`${built}app.js`)) {
    return { index: INDEX, files: Object.fromEntries(['app.js', 'app.css'].filter((f) => fs.existsSync(`${built}${f}`)).map((f) => [f, fs.readFileSync(`${built}${f}`, 'utf8')])) };
  }
  const { bundleUi } = await import('../../scripts/bundle-ui.mjs');
  return { index: INDEX, files: await bundleUi() };
}
