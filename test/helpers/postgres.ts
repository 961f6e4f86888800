// A private PostgreSQL schema per test file, on the test server (SLUICE_TEST_PG_URL), dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testPostgresUrl } from '../../src/config.ts';

export interface TestSchema {
  /** The server's URL (the schema is not part of it: qualify table names with `schema`). */
  readonly url: string;
  readonly schema: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export async function createTestSchema(prefix: string): Promise<TestSchema> {
  const url = testPostgresUrl();
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`SET TimeZone = 'UTC'; CREATE SCHEMA "${schema}"`);
  return {
    url,
    schema,
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
      return (await client.query<R>(sql, params)).rows;
    },
    async drop(): Promise<void> {
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** PostgreSQL catalog URLs, each in a schema of its own on the test server; `cleanup` drops them all. */
export function catalogSchemas(prefix: string): { freshUrl(): string; cleanup(): Promise<void> } {
  const base = `${prefix}_${randomBytes(4).toString('hex')}`;
  const schemas: string[] = [];
  return {
    freshUrl() {
      const schema = `${base}_${schemas.length + 1}`;
      schemas.push(schema);
      const url = new URL(testPostgresUrl());
      url.searchParams.set('schema', schema);
      return url.toString();
    },
    async cleanup() {
      const client = new pg.Client(testPostgresUrl());
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
}
