// Entry of the stream checkpoint thread (see checkpoint-thread.ts): compiled or through tsx, as bin/sluice.mjs runs.
import { importCompiledOrSource } from '../compiled-or-source.mjs';

await importCompiledOrSource(new URL('./checkpoint-thread-worker', import.meta.url));
