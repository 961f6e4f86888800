// Personal data: a column's classification (`pii: 'email'`) and the policy applied where the data enters
// sluice, before anything is written (drop, mask, keyed hash, generalise, tokenise, or keep as it is).
// Plain data and its validation; the SQL is sql/pii-sql.ts, the keys and the vault batch/protect.ts.
import { SluiceError } from '../errors.ts';

/** Well-known classes; any other name is a custom class. */
export const PII_CLASSES = ['email', 'phone', 'name', 'address', 'ip', 'id', 'free_text', 'dob'] as const;
export type PiiClass = (typeof PII_CLASSES)[number] | (string & {});

export type MaskKeep = 'domain' | 'last4' | 'first1' | 'none';
export type GeneralizeTo = 'year' | 'month' | 'day';

/** A policy as written in a definition. */
export type PiiPolicyOption =
  | 'keep' | 'drop' | 'mask' | 'hash' | 'generalize' | 'tokenize'
  | { readonly mask: MaskKeep }
  | { readonly generalize: GeneralizeTo | { readonly bin: number } | { readonly prefix: number } | 'ip' };

/** A policy, resolved. */
export type PiiPolicy =
  | { readonly kind: 'keep' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'mask'; readonly keep: MaskKeep }
  | { readonly kind: 'hash' }
  | { readonly kind: 'generalize'; readonly to: GeneralizeTo | 'ip' | 'auto' }
  | { readonly kind: 'generalize'; readonly bin: number }
  | { readonly kind: 'generalize'; readonly prefix: number }
  | { readonly kind: 'tokenize' };

/** What a definition says of one column: `{ pii: 'email', policy: 'hash' }`. */
export interface ColumnPiiOptions {
  readonly pii: PiiClass;
  /** Absent: the column is PII, kept as it is (`sluice pii` lists it as unprotected). */
  readonly policy?: PiiPolicyOption;
}

export interface ColumnProtection {
  readonly pii: string;
  readonly policy: PiiPolicy | undefined;
}

/** Whether a policy removes the personal data (the column is no longer PII after it). */
export function protects(policy: PiiPolicy | undefined): boolean {
  return policy !== undefined && policy.kind !== 'keep';
}

/** Whether a policy needs the secret key (keyed hash, tokens). */
export function needsKey(policy: PiiPolicy | undefined): boolean {
  return policy?.kind === 'hash' || policy?.kind === 'tokenize';
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Resolve a column's options to a protection, or throw naming the definition and the column. */
export function columnProtection(options: ColumnPiiOptions, where: string): ColumnProtection {
  if (typeof options.pii !== 'string' || !NAME.test(options.pii)) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: pii ${JSON.stringify(options.pii)} is not a classification; use one of ${PII_CLASSES.join(', ')}, or a lower-case name of your own`);
  }
  return { pii: options.pii, policy: options.policy === undefined ? undefined : parsePolicy(options.pii, options.policy, where) };
}

function parsePolicy(pii: string, option: PiiPolicyOption, where: string): PiiPolicy {
  const bad = (why: string): SluiceError => new SluiceError('DEFINITION_INVALID', `${where}: policy ${JSON.stringify(option)} ${why}; use 'keep', 'drop', 'mask' (or { mask: 'domain' | 'last4' | 'first1' | 'none' }), 'hash', 'generalize' (or { generalize: 'year' | 'month' | 'day' | 'ip' | { bin: N } | { prefix: N } }) or 'tokenize'`);
  if (typeof option === 'string') {
    switch (option) {
      case 'keep': case 'drop': case 'hash': case 'tokenize': return { kind: option };
      case 'mask': return { kind: 'mask', keep: pii === 'email' ? 'domain' : pii === 'name' ? 'first1' : 'last4' };
      case 'generalize': return { kind: 'generalize', to: pii === 'ip' ? 'ip' : 'auto' };
      default: throw bad('is not a policy');
    }
  }
  if (typeof option !== 'object' || option === null) throw bad('is not a policy');
  if ('mask' in option) {
    if (!['domain', 'last4', 'first1', 'none'].includes(option.mask)) throw bad('keeps an unknown part');
    return { kind: 'mask', keep: option.mask };
  }
  if ('generalize' in option) {
    const g = option.generalize;
    if (g === 'year' || g === 'month' || g === 'day' || g === 'ip') return { kind: 'generalize', to: g };
    if (typeof g === 'object' && g !== null && 'bin' in g) {
      if (!(typeof g.bin === 'number' && g.bin > 0 && Number.isFinite(g.bin))) throw bad('needs a positive bin width');
      return { kind: 'generalize', bin: g.bin };
    }
    if (typeof g === 'object' && g !== null && 'prefix' in g) {
      if (!(Number.isInteger(g.prefix) && g.prefix > 0)) throw bad('needs a prefix length of at least 1 character');
      return { kind: 'generalize', prefix: g.prefix };
    }
    throw bad('generalizes to an unknown form');
  }
  throw bad('is not a policy');
}

/** Protections of a definition's columns, validated. */
export function protectionsOf(columns: Readonly<Record<string, ColumnPiiOptions>>, where: string): Readonly<Record<string, ColumnProtection>> {
  return Object.freeze(Object.fromEntries(Object.entries(columns).map(([column, options]) => [column, columnProtection(options, `${where} column "${column}"`)])));
}

/** One line for listings: `email, hash`. */
export function describeProtection(protection: ColumnProtection | undefined): string {
  if (protection === undefined) return '';
  const policy = protection.policy;
  if (policy === undefined) return 'none (unprotected)';
  if (policy.kind === 'mask') return `mask (keep ${policy.keep})`;
  if (policy.kind === 'generalize') return 'to' in policy ? `generalize (${policy.to === 'auto' ? 'month' : policy.to})` : 'bin' in policy ? `generalize (bins of ${policy.bin})` : `generalize (first ${policy.prefix} characters)`;
  return policy.kind;
}
