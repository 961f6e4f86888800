// Module resolution hook: a project's sluice.config.ts imports 'sluice'; resolve it to this very package,
// so a project needs no install step and shares one copy of sluice with the CLI that loads it. The config
// file itself is always ESM, even in a folder whose package.json (or lack of one) says CommonJS.
let target;

export async function initialize(data) {
  target = data.target;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'sluice') return { url: target, format: 'module', shortCircuit: true };
  const resolved = await next(specifier, context);
  if (resolved.url.endsWith('/sluice.config.ts')) return { ...resolved, format: 'module' };
  return resolved;
}
