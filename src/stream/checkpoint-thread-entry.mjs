// Entry of the stream checkpoint thread (see checkpoint-thread.ts): TypeScript through tsx, as in bin/sluice.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./checkpoint-thread-worker.ts');
