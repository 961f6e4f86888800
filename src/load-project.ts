// Loading a project: find sluice.config.ts, import it through tsx (no build step on the user's side),
// and check that it default-exports a project made by defineProject.
import fs from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Project } from './define/project.ts';
import { errorMessage, SluiceError } from './errors.ts';

export const CONFIG_FILE = 'sluice.config.ts';

let hooksRegistered = false;

/** tsx compiles TypeScript configs; the resolve hook maps 'sluice' to this package. Once per process. */
export async function registerHooks(): Promise<void> {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  // 'sluice' is this very copy: the compiled index when running from dist/, the source one otherwise.
  const index = new URL(import.meta.url.endsWith('.ts') ? './index.ts' : './index.js', import.meta.url);
  register(new URL('./cli/resolve-hook.mjs', import.meta.url), { data: { target: index.href } });
}

function isProject(value: unknown): value is Project {
  return typeof value === 'object' && value !== null && 'datasets' in value && value.datasets instanceof Map && 'order' in value;
}

export interface LoadedProject {
  readonly project: Project;
  readonly projectDir: string;
  readonly configFile: string;
}

/** Load `<dir>/sluice.config.ts`, or the given config file. */
export async function loadProject(target = '.'): Promise<LoadedProject> {
  const resolved = path.resolve(target);
  const isDir = fs.existsSync(resolved) ? fs.statSync(resolved).isDirectory() : !/\.[cm]?ts$/.test(resolved);
  const configFile = isDir ? path.join(resolved, CONFIG_FILE) : resolved;
  if (!fs.existsSync(configFile)) {
    throw new SluiceError('CONFIG_INVALID', `no ${CONFIG_FILE} in ${path.dirname(configFile)}: run \`sluice init\` to create a project, or pass --project <dir>`, { file: configFile });
  }
  await registerHooks();
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(configFile).href)) as { default?: unknown };
  } catch (error) {
    if (error instanceof SluiceError) throw new SluiceError(error.code, `${configFile}: ${error.message}`, { ...error.context, file: configFile }, { cause: error });
    throw new SluiceError('CONFIG_INVALID', `${configFile} failed to load: ${errorMessage(error)}`, { file: configFile }, { cause: error });
  }
  if (!isProject(module.default)) {
    throw new SluiceError('CONFIG_INVALID', `${configFile} must \`export default defineProject({ ... })\``, { file: configFile });
  }
  return { project: module.default, projectDir: path.dirname(configFile), configFile };
}
