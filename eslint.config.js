// Lint: typescript-eslint's type-checked rules; floating promises matter most for queue and streaming code.
import tseslint from 'typescript-eslint';

const RUNTIMES = ['quality', 'batch', 'features', 'stream', 'orchestrate'];

/** One no-restricted-imports block per layer: the folders it must not import (at any depth of relative path). */
function layerRules(forbidden) {
  return Object.entries(forbidden).map(([files, layers]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: layers.map((layer) => `**/${layer}/*`), message: `${files.split('/')[1]} may not import this layer (see ../shared/DESIGN.md: imports point down)` }],
      }],
    },
  }));
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', '**/*.mjs', '**/*.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The layers of ../shared/DESIGN.md: imports point down, never up or around a circle. Each layer may import the
  // ones below it; the runtimes are ordered too (quality < batch < features < stream < orchestrate), so a circle
  // between them fails here. The composition root (workspace.ts, config.ts) and small shared modules are free.
  ...layerRules({
    'src/define/**': ['sql', 'engine', 'store', 'connectors', 'access', 'generate', ...RUNTIMES, 'server', 'cli'],
    'src/sql/**': ['engine', 'store', 'connectors', 'access', 'generate', ...RUNTIMES, 'server', 'cli'],
    'src/engine/**': ['define', 'sql', 'store', 'connectors', 'access', 'generate', ...RUNTIMES, 'server', 'cli'],
    'src/store/**': ['connectors', 'access', 'generate', ...RUNTIMES, 'server', 'cli'],
    'src/connectors/**': ['access', 'generate', ...RUNTIMES, 'server', 'cli'],
    // Principals, grants and the audit log: used by the runtimes (who ran what) and the server (every route).
    'src/access/**': ['generate', ...RUNTIMES, 'server', 'cli'],
    'src/generate/**': [...RUNTIMES, 'server', 'cli'],
    'src/quality/**': ['batch', 'features', 'stream', 'orchestrate', 'server', 'cli'],
    'src/batch/**': ['features', 'stream', 'orchestrate', 'server', 'cli'],
    'src/features/**': ['stream', 'orchestrate', 'server', 'cli'],
    'src/stream/**': ['orchestrate', 'server', 'cli'],
    'src/orchestrate/**': ['server', 'cli'],
    'src/server/**': ['cli'],
    // The web UI's front end runs in the browser: it talks to the server over HTTP only.
    'src/ui/**': ['define', 'sql', 'engine', 'store', 'connectors', 'access', 'generate', ...RUNTIMES, 'server', 'cli'],
  }),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off' },
  },
);
