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

/** The SluiceError a promise rejects with, checked to carry `code`. */
export async function expectSluiceError(promise: Promise<unknown>, code: SluiceError['code']): Promise<SluiceError> {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof SluiceError)) throw e;
    if (e.code !== code) throw new Error(`expected a SluiceError ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected a SluiceError ${code}, but the promise resolved`);
}
