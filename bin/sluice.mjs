#!/usr/bin/env node
// The `sluice` command: TypeScript sources run through tsx, so neither sluice nor a project needs a build step.
import { register } from 'tsx/esm/api';

register();
// A reader that stopped reading (`sluice show x | head -1`) is not an error: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw error;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
