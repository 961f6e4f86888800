// `sluice status` over every partition's latest outcome: a daily asset whose partitions are blocked by three
// different error checks (and one failing warning) shows all of them, grouped by check, and exits non-zero
// unless --no-fail-on-blocked; stale and missing partitions are counted; --json carries the same.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
tempProjectEachTest('sluice-status-', {}, (d) => (dir = d), []);

const CONFIG = `import { asset, dailyPartitions, defineProject, expect, fileSource } from 'sluice';
const days = dailyPartitions({ start: '2026-11-01', end: '2026-11-09' });
const orders = fileSource('orders', { format: 'csv', path: 'data/{date}.csv', partitions: days,
  columns: { order_id: 'BIGINT', customer_id: 'BIGINT', amount: 'DOUBLE', status: 'VARCHAR' } });
const daily = asset('daily_orders', {
  partitions: days,
  sql: ({ ref }) => \`SELECT order_id, customer_id, amount, status FROM \${ref(orders)}\`,
  checks: [
    expect.columnValuesToNotBeNull('customer_id'),
    expect.columnValuesToBeBetween('amount', { minValue: 0 }),
    expect.columnValuesToBeInSet('status', { valueSet: ['paid', 'refunded'] }),
    expect.columnValuesToBeUnique('order_id', { severity: 'warn' }),
  ],
});
export default defineProject({ name: 'status_demo', sources: [orders], assets: [daily] });
`;

const GOOD = ['1,10,25.0,paid', '2,11,5.0,refunded'];
/** Each day's rows: three days break one error check each, one day breaks the warning. */
const DAYS: Record<string, string[]> = {
  '2026-11-01': GOOD,
  '2026-11-02': ['1,,25.0,paid', '2,11,5.0,paid'], // customer_id NULL
  '2026-11-03': ['1,10,-3.0,paid', '2,11,5.0,paid'], // amount below 0
  '2026-11-04': ['1,10,25.0,paid', '1,11,5.0,paid'], // duplicate order_id: a warning only
  '2026-11-05': ['1,10,25.0,lost', '2,11,5.0,paid'], // status outside the set
  '2026-11-06': GOOD,
  '2026-11-07': GOOD,
};

function writeDay(day: string, rows: readonly string[]): void {
  fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), ['order_id,customer_id,amount,status', ...rows].join('\n'));
}

interface CheckGroup { severity: string; expectationType: string; column: string | null; partitions: number; keys: string[] }
interface StatusJson {
  asset: string;
  partitions: {
    attempted: number;
    blocked: { count: number; keys: string[]; byCheck: CheckGroup[]; byError: { count: number; keys: string[]; error: string } | null };
    warnings: { count: number; byCheck: CheckGroup[] };
    stale: { count: number; keys: string[] };
    missing: { count: number; keys: string[] };
  };
  checks: { passed: number; failed: number };
}

describe('sluice status', () => {
  it('shows every blocked partition grouped by check, warnings apart, stale and missing partitions, and exits non-zero', async () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
    fs.mkdirSync(path.join(dir, 'data'));
    // 2026-11-03 is built once while good, so its later blocked build leaves the earlier version published (stale).
    for (const day of Object.keys(DAYS)) writeDay(day, day === '2026-11-03' ? GOOD : DAYS[day] ?? GOOD);
    expect((await runCli(['run', '-p', dir, '--from', '2026-11-01', '--to', '2026-11-07'])).code).toBe(1);
    writeDay('2026-11-03', DAYS['2026-11-03'] ?? GOOD);
    expect((await runCli(['run', '-p', dir, '--from', '2026-11-01', '--to', '2026-11-07'])).code).toBe(1);

    const human = await runCli(['status', '-p', dir]);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/daily_orders: 3 of 7 partition\(s\) blocked/);
    expect(human.stdout).toMatch(/expect_column_values_to_not_be_null\(customer_id\): 1 partition\(s\): 2026-11-02/);
    expect(human.stdout).toMatch(/expect_column_values_to_be_between\(amount\): 1 partition\(s\): 2026-11-03/);
    expect(human.stdout).toMatch(/expect_column_values_to_be_in_set\(status\): 1 partition\(s\): 2026-11-05/);
    expect(human.stdout).toMatch(/daily_orders: 1 partition\(s\) with failing warnings:\n\s+expect_column_values_to_be_unique\(order_id\) \[warn\]: 1 partition\(s\): 2026-11-04/);
    expect(human.stdout).toMatch(/daily_orders: 1 partition\(s\) stale[^\n]*2026-11-03/);
    expect(human.stdout).toMatch(/daily_orders: 4 partition\(s\) missing[^\n]*2026-11-02, 2026-11-05, 2026-11-08, 2026-11-09/);

    const json = await runCli(['status', '--json', '-p', dir]);
    expect(json.code).toBe(1);
    const [status] = JSON.parse(json.stdout) as StatusJson[];
    expect(status?.partitions.attempted).toBe(7);
    expect(status?.partitions.blocked.count).toBe(3);
    expect(status?.partitions.blocked.keys).toEqual(['2026-11-02', '2026-11-03', '2026-11-05']);
    expect(status?.partitions.blocked.byCheck.map((g) => [g.expectationType, g.column, g.partitions, g.keys])).toEqual([
      ['expect_column_values_to_be_between', 'amount', 1, ['2026-11-03']],
      ['expect_column_values_to_be_in_set', 'status', 1, ['2026-11-05']],
      ['expect_column_values_to_not_be_null', 'customer_id', 1, ['2026-11-02']],
    ]);
    expect(status?.partitions.blocked.byError).toBeNull();
    expect(status?.partitions.warnings.count).toBe(1);
    expect(status?.partitions.warnings.byCheck.map((g) => [g.expectationType, g.column, g.partitions, g.keys])).toEqual([['expect_column_values_to_be_unique', 'order_id', 1, ['2026-11-04']]]);
    expect(status?.partitions.stale).toEqual({ count: 1, keys: ['2026-11-03'] });
    expect(status?.partitions.missing).toEqual({ count: 4, keys: ['2026-11-02', '2026-11-05', '2026-11-08', '2026-11-09'] });
    // Every partition's latest checks count: 7 partitions x 4 checks, 4 of them failing.
    expect(status?.checks).toMatchObject({ passed: 24, failed: 4 });

    const relaxed = await runCli(['status', '--no-fail-on-blocked', '-p', dir]);
    expect(relaxed.code).toBe(0);
    expect(relaxed.stdout).toMatch(/3 of 7 partition\(s\) blocked/);

    // A fixed day builds and is no longer blocked; the others still are.
    writeDay('2026-11-05', GOOD);
    expect((await runCli(['run', '-p', dir, '--partition', '2026-11-05'])).code).toBe(0);
    const after = JSON.parse((await runCli(['status', '--json', '-p', dir])).stdout) as StatusJson[];
    expect(after[0]?.partitions.blocked.keys).toEqual(['2026-11-02', '2026-11-03']);
    expect(after[0]?.partitions.missing.keys).toEqual(['2026-11-02', '2026-11-08', '2026-11-09']);
  });
});
