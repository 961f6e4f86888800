// `npm run conformance:gx -- <dir> [--out results.jsonl]`: runs GX's conformance cases in <dir> through
// sluice, prints {"total", "passed", "failed": [ids]} on stdout (the reasons for failures on stderr), and
// with --out writes one line per case: {"id", "result"} with sluice's GX-style result.
import fs from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { runConformance } from './gx-harness.ts';

export interface Output {
  write(text: string): void;
}

export async function main(argv: readonly string[], stdout: Output = process.stdout, stderr: Output = process.stderr): Promise<number> {
  const args = [...argv];
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : undefined;
  if (outAt >= 0) args.splice(outAt, 2);
  const dir = args[0];
  if (dir === undefined || args.length > 1 || (outAt >= 0 && out === undefined)) {
    stderr.write('usage: npm run conformance:gx -- <cases dir> [--out results.jsonl]\n');
    return 2;
  }
  const report = await runConformance(dir);
  for (const outcome of report.outcomes) {
    if (!outcome.passed) stderr.write(`FAIL ${outcome.id}: ${outcome.reasons.join('; ')}\n`);
  }
  if (out !== undefined) {
    await fs.writeFile(out, report.outcomes.map((o) => JSON.stringify({ id: o.id, result: o.result })).join('\n') + '\n');
  }
  stdout.write(`${JSON.stringify({ total: report.total, passed: report.passed, failed: report.failed })}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
