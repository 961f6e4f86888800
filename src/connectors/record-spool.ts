// Where extract connectors put what they fetch: an NDJSON file DuckDB loads in one statement. Connectors only
// move rows here; casting, merging and checking happen in DuckDB.
import fs from 'node:fs';
import { once } from 'node:events';
import { ROW_COLUMN } from '../sql/extract-sql.ts';

export class RecordSpool {
  readonly file: string;
  readonly #out: fs.WriteStream;
  #rows = 0;

  constructor(file: string) {
    this.file = file;
    this.#out = fs.createWriteStream(file);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Append records (column -> JSON value); each gets the next row number. */
  async write(records: readonly Record<string, unknown>[]): Promise<void> {
    let text = '';
    for (const record of records) {
      this.#rows += 1;
      text += `${JSON.stringify({ ...record, [ROW_COLUMN]: this.#rows })}\n`;
    }
    if (text !== '' && !this.#out.write(text)) await once(this.#out, 'drain');
  }

  async close(): Promise<void> {
    if (this.#out.closed) return;
    this.#out.end();
    await once(this.#out, 'close');
  }
}
