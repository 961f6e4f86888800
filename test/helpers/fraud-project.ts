// The stream tests' project: card transactions as an event stream and as a batch log (an asset over landed
// NDJSON, redeliveries removed as the stream's dedupe does), and one tiled windowed view fed by both. Tests
// build it in process with fraudProject(), and write it as a sluice.config.ts for the CLI with
// writeFraudConfig(), so both sides run the same definitions.
import fs from 'node:fs';
import path from 'node:path';
import { asset, defineProject, entity, eventStream, featureService, featureView, fileSource, type Project } from '../../src/index.ts';

export interface FraudOptions {
  /** JetStream stream name and subject, unique per test run on a shared NATS. */
  readonly jetStream?: string;
  readonly subject?: string;
  readonly partitions?: number;
}

export function fraudProject(options: FraudOptions = {}): Project {
  const txnStream = eventStream('transactions', {
    fields: { txn_id: 'string', card_id: 'int', merchant_id: 'string', amount: 'float', ts: 'timestamp' },
    timestamp: 'ts',
    id: 'txn_id',
    allowedDisorder: '5s',
    allowedLateness: '10s',
    ...(options.jetStream === undefined ? {} : { jetStream: options.jetStream }),
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    ...(options.partitions === undefined ? {} : { partitions: options.partitions, partitionBy: 'card_id' }),
  });
  const card = entity('card', { keys: { card_id: 'int' } });
  const raw = fileSource('txns_raw', {
    format: 'ndjson',
    path: 'data/txns.ndjson',
    columns: { txn_id: 'VARCHAR', card_id: 'BIGINT', merchant_id: 'VARCHAR', amount: 'DOUBLE', ts: 'TIMESTAMP' },
    badRecords: 'dead-letter',
  });
  const txns = asset('transactions', { sql: ({ ref }) => `SELECT * FROM ${ref(raw)} QUALIFY row_number() OVER (PARTITION BY txn_id ORDER BY ts) = 1` });
  const cardActivity = featureView('card_activity', {
    entity: card,
    source: txns,
    stream: txnStream,
    timestamp: 'ts',
    tile: '1m',
    ttl: '30d',
    aggregations: {
      txn_count_1h: { function: 'count', window: '1h' },
      txn_amount_sum_1h: { function: 'sum', column: 'amount', window: '1h' },
      txn_amount_avg_24h: { function: 'avg', column: 'amount', window: '24h' },
      distinct_merchants_24h: { function: 'count_distinct', column: 'merchant_id', window: '24h' },
      last_merchant: { function: 'last', column: 'merchant_id', window: '1h' },
    },
  });
  return defineProject({ name: 'fraud', assets: [txns], featureServices: [featureService('fraud', { features: [cardActivity] })] });
}

/** Write `<dir>/sluice.config.ts` defining fraudProject(options), for `sluice` commands run in `dir`. */
export function writeFraudConfig(dir: string, options: FraudOptions = {}): void {
  const helper = path.join(import.meta.dirname, 'fraud-project.ts');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'sluice.config.ts'), `import { fraudProject } from ${JSON.stringify(helper)};\nexport default fraudProject(${JSON.stringify(options)});\n`);
}
