import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { generateSecret, secretKey, signatureHeader, webhookHeaders } from '../../gateway/delivery/sign.js';

// Copied from /work/shared/vectors/signatures.json ("standard-webhooks"), originally the
// standard-webhooks / svix reference library tests.
const VECTORS = [
  {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  },
  {
    secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
    id: 'msg_27UH4WbU6Z5A5EzD8u03UvzRbpk',
    timestamp: 1649367553,
    body: '{"email":"test@example.com","username":"test_user"}',
    signature: 'v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=',
  },
  {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: 'a'.repeat(1048576),
    signature: 'v1,txpEUxqWZJ5nteTnymUVa+7C4NHpBeXJ6CsBAW0c3/A=',
  },
];

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('Standard Webhooks signing', () => {
  it('matches the published vectors (string and Buffer bodies)', () => {
    for (const v of VECTORS) {
      assert.equal(signatureHeader(v.id, v.timestamp, v.body, [v.secret]), v.signature);
      assert.equal(signatureHeader(v.id, v.timestamp, Buffer.from(v.body), [v.secret]), v.signature);
    }
  });

  it('generateSecret makes whsec_ + 32 random bytes', () => {
    const a = generateSecret();
    const b = generateSecret();
    assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(a, b);
    assert.equal(secretKey(a).length, 32);
  });

  it('secretKey decodes with or without the prefix and rejects junk without echoing it', () => {
    const key = secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    assert.equal(key.toString('base64'), 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    assert.deepEqual(secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), key);
    assert.equal(secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), key, 'decoded keys are cached');
    for (const bad of ['', 'whsec_', 'whsec_not base64!', 'whsec_%%%']) {
      assert.throws(
        () => secretKey(bad),
        (e: Error) => !(bad.length > 6 && e.message.includes(bad)),
      );
    }
  });

  it('secretKey takes the alphabet the standardwebhooks library takes (standard base64 only)', () => {
    const urlSafe = 'whsec_' + Buffer.alloc(24, 0xfb).toString('base64url');
    assert.match(urlSafe, /[-_]/);
    assert.throws(() => new Webhook(urlSafe));
    assert.throws(() => secretKey(urlSafe), /base64/);
    const standard = 'whsec_' + Buffer.alloc(24, 0xfb).toString('base64');
    assert.doesNotThrow(() => new Webhook(standard));
    assert.deepEqual(secretKey(standard), Buffer.alloc(24, 0xfb));
  });

  it('is accepted by the standardwebhooks library', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'in_1', amount: 4200 } });
    const headers = webhookHeaders('msg_2abc', nowSec(), body, [secret]);
    assert.deepEqual(Object.keys(headers).sort(), ['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    // Buffer body, non-ASCII payload
    const buf = Buffer.from(JSON.stringify({ name: 'Zoë ✓' }));
    const h2 = webhookHeaders('msg_utf8', nowSec(), buf, [secret]);
    assert.deepEqual(new Webhook(secret).verify(buf, h2), { name: 'Zoë ✓' });
  });

  it('the library rejects tampering with body, id and timestamp', () => {
    const secret = generateSecret();
    const body = '{"a":1}';
    const ts = nowSec();
    const headers = webhookHeaders('msg_1', ts, body, [secret]);
    const wh = new Webhook(secret);
    assert.throws(() => wh.verify('{"a":2}', headers));
    assert.throws(() => wh.verify(body, { ...headers, 'webhook-id': 'msg_2' }));
    assert.throws(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(ts + 1) }));
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers));
  });

  it('with two live secrets, receivers holding either one accept', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const body = '{"rotating":true}';
    const headers = webhookHeaders('msg_rot', nowSec(), body, [oldSecret, newSecret]);
    const parts = headers['webhook-signature'].split(' ');
    assert.equal(parts.length, 2);
    for (const p of parts) assert.match(p, /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(new Webhook(oldSecret).verify(body, headers), { rotating: true });
    assert.deepEqual(new Webhook(newSecret).verify(body, headers), { rotating: true });
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers));
    // each part equals the single-secret signature
    assert.equal(parts[0], signatureHeader('msg_rot', Number(headers['webhook-timestamp']), body, [oldSecret]));
    assert.equal(parts[1], signatureHeader('msg_rot', Number(headers['webhook-timestamp']), body, [newSecret]));
  });

  it('refuses to sign with no secrets or a fractional timestamp', () => {
    assert.throws(() => signatureHeader('msg', nowSec(), 'x', []), /at least one/);
    assert.throws(() => signatureHeader('msg', Date.now() / 1000, 'x', [generateSecret()]), /integer/);
  });
});
