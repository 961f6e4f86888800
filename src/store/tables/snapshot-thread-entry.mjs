// Entry of the table snapshot thread (see snapshot-thread.ts): compiled or through tsx, as bin/sluice.mjs runs.
import { importCompiledOrSource } from '../../compiled-or-source.mjs';

await importCompiledOrSource(new URL('./snapshot-thread-worker', import.meta.url));
