// Micro-bench: validating a 1 KB event's data against its catalogue schema, as the publish path
// does (the validator compiled once, as per config generation). Run after `npm run build`:
//   npm run bench:validate          (or: taskset -c 0 node bench/validate-event.mjs)
// Prints the median over rounds of ns per validation, for data that fits and data that fails.
import { compileEventType } from '../dist/gateway/catalogue/catalogue.js';

const ROUNDS = 7;
const PER_ROUND = 200_000;

const schema = {
  type: 'object',
  required: ['id', 'amount', 'currency', 'customer', 'lines', 'paidAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: '^in_[A-Za-z0-9]+$' },
    amount: { type: 'integer', minimum: 0 },
    currency: { type: 'string', minLength: 3, maxLength: 3 },
    paidAt: { type: 'string', format: 'date-time' },
    customer: {
      type: 'object',
      required: ['id', 'email'],
      properties: { id: { type: 'string' }, email: { type: 'string', format: 'email' }, name: { type: 'string' } },
    },
    lines: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['sku', 'qty', 'unitAmount'],
        additionalProperties: false,
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 }, unitAmount: { type: 'integer' }, description: { type: 'string' } },
      },
    },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const data = {
  id: 'in_1NxYz2AbCdEfGh',
  amount: 42000,
  currency: 'EUR',
  paidAt: '2026-12-02T05:00:00Z',
  customer: { id: 'cus_9s8d7f6g5h', email: 'billing@acme.example', name: 'Acme Corporation' },
  lines: Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, unitAmount: 500 * (i + 1), description: `Line item number ${i} of the invoice` })),
  metadata: { order: 'ord_123456', region: 'eu-west', channel: 'web' },
};
const bytes = Buffer.byteLength(JSON.stringify({ type: 'invoice.paid', data }));
const bad = { ...data, amount: '42000', lines: data.lines.map((l) => ({ ...l, qty: 0 })) };

const entry = compileEventType({ name: 'invoice.paid', version: 1, schema, examples: [data] }, 'config');
if (entry.validate(data).length !== 0) throw new Error('the bench event should fit its schema');
if (entry.validate(bad).length === 0) throw new Error('the bad event should fail');

function measure(payload) {
  const out = [];
  let sink = 0;
  for (let i = 0; i < PER_ROUND; i++) sink += entry.validate(payload).length; // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) sink += entry.validate(payload).length;
    out.push(Number(process.hrtime.bigint() - t0) / PER_ROUND);
  }
  out.sort((a, b) => a - b);
  return { median: out[Math.floor(out.length / 2)], min: out[0], max: out[out.length - 1], sink };
}

const ok = measure(data);
const fail = measure(bad);
console.log(`event: ${bytes} bytes (type + data as published), node ${process.version}, ${ROUNDS} rounds x ${PER_ROUND.toLocaleString('en')}`);
console.log(`fits:  median ${(ok.median / 1000).toFixed(2)} µs per validation (min ${(ok.min / 1000).toFixed(2)}, max ${(ok.max / 1000).toFixed(2)})`);
console.log(`fails: median ${(fail.median / 1000).toFixed(2)} µs per validation, ${entry.validate(bad).length} failures listed (min ${(fail.min / 1000).toFixed(2)}, max ${(fail.max / 1000).toFixed(2)})`);
