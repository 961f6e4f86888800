// Real-time fraud features: card transactions arrive as events (NATS JetStream, or NDJSON when embedded); a
// stream job keeps per-card windowed features in the online store within milliseconds, and the same
// definitions compute them in batch over the transaction log, for training sets and for checking skew.
import { asset, defineProject, entity, eventStream, featureService, featureView, fileSource } from 'sluice';

const transactionEvents = eventStream('transactions', {
  fields: { txn_id: 'string', card_id: 'int', merchant_id: 'string', amount: 'float', ts: 'timestamp' },
  timestamp: 'ts',
  id: 'txn_id',
  required: ['card_id', 'amount'],
  allowedDisorder: '5s',
  allowedLateness: '1m',
  description: 'card transactions, as the payment switch emits them',
});

// The batch side: the same events, landed as NDJSON files (the stream's archive).
const landed = fileSource('transactions_landed', {
  format: 'ndjson',
  path: 'data/*.ndjson',
  columns: { txn_id: 'VARCHAR', card_id: 'BIGINT', merchant_id: 'VARCHAR', amount: 'DOUBLE', ts: 'TIMESTAMP' },
  badRecords: 'dead-letter',
});

const transactions = asset('transactions', {
  description: 'one row per transaction (redeliveries removed, as the stream does)',
  sql: ({ ref }) => `SELECT * FROM ${ref(landed)} QUALIFY row_number() OVER (PARTITION BY txn_id ORDER BY ts) = 1`,
});

const card = entity('card', { keys: { card_id: 'int' }, description: 'a payment card' });

const cardActivity = featureView('card_activity', {
  entity: card,
  source: transactions,
  stream: transactionEvents,
  timestamp: 'ts',
  tile: '1m',
  ttl: '7d',
  aggregations: {
    txn_count_1h: { function: 'count', window: '1h' },
    txn_amount_sum_1h: { function: 'sum', column: 'amount', window: '1h' },
    txn_amount_avg_24h: { function: 'avg', column: 'amount', window: '24h' },
    distinct_merchants_24h: { function: 'count_distinct', column: 'merchant_id', window: '24h' },
  },
});

export default defineProject({
  name: 'fraud',
  assets: [transactions],
  featureServices: [featureService('fraud_model_v1', { features: [cardActivity] })],
});
