#!/usr/bin/env node
// The `sluice` command: TypeScript sources run through tsx, so neither sluice nor a project needs a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
