// The UI's client of the JSON API: the key from the login box (kept in sessionStorage) in the x-api-key header,
// errors shown with the server's message, and a run's live updates read from its event stream.
const KEY = 'sluice-api-key';

export function apiKey(): string {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setApiKey(key: string): void {
  if (key === '') sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  const key = apiKey();
  if (key !== '') h['x-api-key'] = key;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function parse<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) throw new ApiError(response.status, body.message ?? `${response.status} ${response.statusText}`);
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: headers(false) }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(await fetch(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body) }));
}

/** Read a server-sent event stream with fetch (so the key goes in a header), calling `onEvent` per event. */
export async function follow(path: string, onEvent: (event: string, data: unknown) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(path, { headers: headers(false), signal });
  if (!response.ok || response.body === null) throw new ApiError(response.status, `live updates failed: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(chunk)?.[1] ?? 'null';
      onEvent(event, JSON.parse(data));
    }
  }
}
