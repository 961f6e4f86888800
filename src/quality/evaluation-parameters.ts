// GX evaluation parameters in kwargs: `{"$PARAMETER": "now() - timedelta(weeks=52*100)"}`. A small expression
// language: numbers, strings, + - * /, parentheses, now(), today(), datetime(y, m, d[, H, M, S]), date(y, m, d),
// timedelta(weeks=, days=, hours=, minutes=, seconds=, milliseconds=). Times are UTC.
import { SluiceError } from '../errors.ts';

type Value = number | string | Date | { readonly ms: number };

interface Token {
  readonly kind: 'number' | 'string' | 'name' | 'op';
  readonly text: string;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),=]))/gy;
  let at = 0;
  while (at < source.length) {
    if (source.slice(at).trim() === '') break;
    pattern.lastIndex = at;
    const match = pattern.exec(source);
    if (match === null) throw new Error(`unexpected "${source.slice(at).trim()[0] ?? ''}" at position ${at}`);
    at = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'number', text: match[1] });
    else if (match[2] !== undefined) tokens.push({ kind: 'string', text: match[2].slice(1, -1) });
    else if (match[3] !== undefined) tokens.push({ kind: 'name', text: match[3] });
    else tokens.push({ kind: 'op', text: match[4] ?? '' });
  }
  return tokens;
}

const TIMEDELTA_UNITS: Readonly<Record<string, number>> = {
  weeks: 604_800_000, days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000, milliseconds: 1, microseconds: 0.001,
};

class Parser {
  readonly #tokens: Token[];
  readonly #now: Date;
  #at = 0;

  constructor(tokens: Token[], now: Date) {
    this.#tokens = tokens;
    this.#now = now;
  }

  parse(): Value {
    const value = this.#expression();
    if (this.#at < this.#tokens.length) throw new Error(`unexpected "${this.#tokens[this.#at]?.text ?? ''}"`);
    return value;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#at];
  }

  #take(text?: string): Token {
    const token = this.#tokens[this.#at];
    if (token === undefined || (text !== undefined && token.text !== text)) throw new Error(`expected ${text ?? 'a value'}${token === undefined ? ' at the end' : ` before "${token.text}"`}`);
    this.#at += 1;
    return token;
  }

  #expression(): Value {
    let left = this.#term();
    for (let op = this.#peek(); op?.kind === 'op' && (op.text === '+' || op.text === '-'); op = this.#peek()) {
      this.#take();
      left = arithmetic(op.text, left, this.#term());
    }
    return left;
  }

  #term(): Value {
    let left = this.#factor();
    for (let op = this.#peek(); op?.kind === 'op' && (op.text === '*' || op.text === '/'); op = this.#peek()) {
      this.#take();
      left = arithmetic(op.text, left, this.#factor());
    }
    return left;
  }

  #factor(): Value {
    const token = this.#take();
    if (token.kind === 'number') return Number(token.text);
    if (token.kind === 'string') return token.text;
    if (token.text === '-') return arithmetic('*', -1, this.#factor());
    if (token.text === '(') {
      const value = this.#expression();
      this.#take(')');
      return value;
    }
    if (token.kind === 'name') return this.#call(token.text);
    throw new Error(`unexpected "${token.text}"`);
  }

  #call(name: string): Value {
    this.#take('(');
    const positional: Value[] = [];
    const named = new Map<string, Value>();
    while (this.#peek()?.text !== ')') {
      const next = this.#tokens[this.#at + 1];
      if (this.#peek()?.kind === 'name' && next?.text === '=') {
        const key = this.#take().text;
        this.#take('=');
        named.set(key, this.#expression());
      } else {
        positional.push(this.#expression());
      }
      if (this.#peek()?.text === ',') this.#take(',');
      else break;
    }
    this.#take(')');
    const num = (v: Value | undefined, what: string): number => {
      if (typeof v !== 'number') throw new Error(`${name}(): ${what} must be a number`);
      return v;
    };
    switch (name) {
      case 'now':
        return new Date(this.#now.getTime());
      case 'today':
        return new Date(Date.UTC(this.#now.getUTCFullYear(), this.#now.getUTCMonth(), this.#now.getUTCDate()));
      case 'date':
      case 'datetime': {
        const parts = ['year', 'month', 'day', 'hour', 'minute', 'second'].map((k, i) => positional[i] ?? named.get(k) ?? (i < 3 ? undefined : 0));
        const [y, mo, d, h, mi, s] = parts.map((p, i) => num(p, ['year', 'month', 'day', 'hour', 'minute', 'second'][i] ?? ''));
        return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0));
      }
      case 'timedelta': {
        let ms = 0;
        const order = ['days', 'seconds', 'microseconds', 'milliseconds', 'minutes', 'hours', 'weeks'];
        positional.forEach((v, i) => { ms += num(v, order[i] ?? 'argument') * (TIMEDELTA_UNITS[order[i] ?? ''] ?? 0); });
        for (const [key, v] of named) {
          const unit = TIMEDELTA_UNITS[key];
          if (unit === undefined) throw new Error(`timedelta() has no argument "${key}"`);
          ms += num(v, key) * unit;
        }
        return { ms };
      }
      default:
        throw new Error(`unknown function or parameter "${name}" (supported: now(), today(), datetime(), date(), timedelta())`);
    }
  }
}

function arithmetic(op: string, a: Value, b: Value): Value {
  const isDelta = (v: Value): v is { ms: number } => typeof v === 'object' && !(v instanceof Date);
  if (typeof a === 'number' && typeof b === 'number') {
    return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  }
  if (a instanceof Date && isDelta(b) && (op === '+' || op === '-')) return new Date(a.getTime() + (op === '+' ? b.ms : -b.ms));
  if (isDelta(a) && b instanceof Date && op === '+') return new Date(b.getTime() + a.ms);
  if (a instanceof Date && b instanceof Date && op === '-') return { ms: a.getTime() - b.getTime() };
  if (isDelta(a) && isDelta(b) && (op === '+' || op === '-')) return { ms: op === '+' ? a.ms + b.ms : a.ms - b.ms };
  if (isDelta(a) && typeof b === 'number' && (op === '*' || op === '/')) return { ms: op === '*' ? a.ms * b : a.ms / b };
  if (typeof a === 'number' && isDelta(b) && op === '*') return { ms: a * b.ms };
  throw new Error(`cannot apply "${op}" to these values`);
}

/** Resolve `{"$PARAMETER": expr}` to a number, string or Date; other values pass through unchanged. */
export function resolveParameter(value: unknown, now: Date, argument: string): unknown {
  if (typeof value !== 'object' || value === null || !('$PARAMETER' in value)) return value;
  const expression = String(value.$PARAMETER);
  try {
    const result = new Parser(tokenize(expression), now).parse();
    if (typeof result === 'object' && !(result instanceof Date)) throw new Error('the expression is a duration, not a value');
    return result;
  } catch (error) {
    throw new SluiceError('DEFINITION_INVALID', `argument "${argument}": cannot evaluate $PARAMETER "${expression}": ${(error as Error).message}`, { argument });
  }
}
