// The SluiceError a call throws, for assertions on its code, message and context.
import { SluiceError } from '../../src/errors.ts';

export function thrownSluiceError(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e;
    throw e;
  }
  throw new Error('expected a SluiceError');
}
