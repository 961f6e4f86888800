// Entry of the table snapshot thread (see snapshot-thread.ts): TypeScript through tsx, as in bin/sluice.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./snapshot-thread-worker.ts');
