// NATS names checked at the boundary, so a typo is a clear CONFIG_INVALID instead of a server-side refusal.
import { SluiceError } from '../errors.ts';

const NAME = /^[A-Za-z0-9_-]+$/;

/** Stream and durable consumer names: no dots, wildcards, spaces or path separators. */
export function checkName(kind: 'stream' | 'durable consumer', name: string): void {
  if (!NAME.test(name)) {
    throw new SluiceError('CONFIG_INVALID', `invalid JetStream ${kind} name '${name}': use letters, digits, '_' and '-' only`, { source: name });
  }
}

/** Dot-separated non-empty tokens; with `wildcards`, '*' as a whole token and '>' as the last one. */
export function checkSubject(subject: string, wildcards: boolean): void {
  const tokens = subject.split('.');
  const valid = tokens.every((token, i) => {
    if (token === '' || /\s/.test(token)) return false;
    if (token === '*') return wildcards;
    if (token === '>') return wildcards && i === tokens.length - 1;
    return !token.includes('*') && !token.includes('>');
  });
  if (!valid) {
    const rule = wildcards ? "dot-separated tokens, with '*' or a final '>' as whole tokens" : 'dot-separated tokens without wildcards';
    throw new SluiceError('CONFIG_INVALID', `invalid NATS subject '${subject}': ${rule}`, { subject });
  }
}
