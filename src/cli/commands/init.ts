// `sluice init [dir]`: scaffold a working project: a config with a source and two assets, and sample data.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { CONFIG_FILE } from '../../load-project.ts';
import { globals } from '../context.ts';
import { printJson } from '../render.ts';

const CONFIG = `import { asset, defineProject, fileSource } from 'sluice';

// Raw orders, one CSV; rows that do not parse go to .sluice/dead-letter/orders/ with their reason.
const orders = fileSource('orders', {
  format: 'csv',
  path: 'data/orders.csv',
  columns: { order_id: 'BIGINT', customer_id: 'BIGINT', ordered_at: 'TIMESTAMP', amount: 'DECIMAL(12,2)' },
  badRecords: 'dead-letter',
});

// Assets are SQL over their inputs; ref() names an input and records the dependency.
const customerTotals = asset('customer_totals', {
  description: 'Orders and revenue per customer',
  sql: ({ ref }) => \`
    SELECT customer_id, count(*) AS orders, sum(amount) AS revenue, max(ordered_at) AS last_order_at
    FROM \${ref(orders)}
    GROUP BY customer_id\`,
});

const topCustomers = asset('top_customers', {
  sql: ({ ref }) => \`SELECT * FROM \${ref(customerTotals)} WHERE revenue >= 100\`,
});

export default defineProject({
  name: 'my_project',
  sources: [orders],
  assets: [customerTotals, topCustomers],
});
`;

const ORDERS = `order_id,customer_id,ordered_at,amount
1,10,2026-11-01 09:30:00,25.00
2,11,2026-11-01 10:05:00,140.50
3,10,2026-11-02 18:45:00,99.99
4,12,2026-11-03 08:00:00,12.00
5,11,2026-11-03 12:30:00,not-a-number
6,12,2026-11-04 16:20:00,310.00
`;

/** This package's folder: the project's tsconfig maps `sluice` onto its sources, so editors resolve the import. */
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function packageJson(target: string): string {
  const name = path.basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'sluice-project';
  return `${JSON.stringify({ name, private: true, type: 'module', scripts: { build: 'sluice run', status: 'sluice status', check: 'tsc -p .' } }, null, 2)}\n`;
}

function tsconfig(): string {
  return `${JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true,
      allowImportingTsExtensions: true, types: ['node'],
      // \`import ... from 'sluice'\` resolves to the sluice sources this project was created with.
      paths: { sluice: [path.join(PACKAGE_DIR, 'src', 'index.ts')] },
      typeRoots: [path.join(PACKAGE_DIR, 'node_modules', '@types')],
    },
    include: ['sluice.config.ts'],
  }, null, 2)}\n`;
}

export function scaffold(dir: string): string[] {
  const target = path.resolve(dir);
  const configFile = path.join(target, CONFIG_FILE);
  if (fs.existsSync(configFile)) {
    throw new SluiceError('CONFIG_INVALID', `${configFile} already exists; init does not overwrite a project`, { file: configFile });
  }
  fs.mkdirSync(path.join(target, 'data'), { recursive: true });
  const files: Array<[string, string]> = [
    [configFile, CONFIG],
    [path.join(target, 'data', 'orders.csv'), ORDERS],
    [path.join(target, '.gitignore'), '.sluice/\n'],
    [path.join(target, 'package.json'), packageJson(target)],
    [path.join(target, 'tsconfig.json'), tsconfig()],
  ];
  for (const [file, text] of files) if (!fs.existsSync(file)) fs.writeFileSync(file, text);
  return files.map(([file]) => file);
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a project: sluice.config.ts, sample data, .gitignore, package.json and tsconfig.json (editors resolve `sluice`)')
    .argument('[dir]', 'project directory', '.')
    .action((dir: string, _options: unknown, command: Command) => {
      const files = scaffold(dir);
      if (globals(command).json) return printJson({ created: files });
      process.stdout.write(`created ${files.map((f) => path.relative(process.cwd(), f) || f).join(', ')}\nnext: cd ${dir} && sluice run && sluice show top_customers\n(no sluice command? run \`npm link\` once in ${PACKAGE_DIR}, or use node ${path.join(PACKAGE_DIR, 'bin', 'sluice.mjs')})\n`);
      return undefined;
    });
}
