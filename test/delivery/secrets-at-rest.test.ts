/**
 * Endpoint records encrypted at rest in the real Redis (RedisRepository with a RecordSealer): the
 * raw values hold no secret, header value or TLS key; they read back; a key rotation reads old
 * records and re-encrypts them; a wrong key is a clear error, never plaintext or a crash.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisRepository } from '../../gateway/delivery/repository.js';
import { parseEncryptionKey, PLAINTEXT, RecordSealer } from '../../gateway/delivery/secret-keys.js';
import type { EndpointRecord } from '../../gateway/delivery/types.js';
import { GatewayError } from '../../gateway/errors.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';

const K1 = parseEncryptionKey(Buffer.alloc(32, 11).toString('base64'));
const K2 = parseEncryptionKey(Buffer.alloc(32, 22).toString('hex'));
const SECRET = `whsec_${Buffer.from('the endpoint signing secret, 32b').toString('base64')}`;
const HEADER_VALUE = 'Bearer header-credential-4711';
const TLS_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7private\n-----END PRIVATE KEY-----\n';
const URL_PASSWORD = 'url-password-0815';

const record = (id: string): EndpointRecord => ({
  id,
  tenant: 'default',
  url: `https://user:${URL_PASSWORD}@hooks.example/${id}`,
  events: ['*'],
  secrets: [{ secret: SECRET }],
  headers: { authorization: HEADER_VALUE },
  tls: { key: TLS_KEY, cert: 'CERT' },
  disabled: false,
  source: 'api',
  createdAt: 1,
  updatedAt: 2,
});

describe('endpoint records encrypted at rest (redis)', () => {
  let redis: Redis;
  let prefix: string;
  let sealer: RecordSealer;
  let repo: RedisRepository;
  const raw = (id: string) => redis.get(`${prefix}dlv:ep:${id}`);
  const assertSealed = (v: string | null, kid: string) => {
    assert.ok(v, 'stored');
    assert.ok(v.startsWith(`hgenc:1:${kid}:`), v.slice(0, 40));
    for (const plain of [SECRET, SECRET.slice(6), HEADER_VALUE, 'header-credential', 'PRIVATE KEY', URL_PASSWORD]) assert.ok(!v.includes(plain), `raw value holds ${plain}`);
  };

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    prefix = testPrefix('secrets-at-rest');
    sealer = new RecordSealer(K1);
    // The repository asks for the keys on every call: a reload swaps them.
    repo = new RedisRepository(redis, prefix, Date.now, () => sealer);
  });
  after(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });

  test('the raw values hold neither the secret, the header value, the TLS key nor the URL password; reading gives them back', async () => {
    await repo.putEndpoint(record('a'));
    await repo.putEndpoint(record('b'));
    assertSealed(await raw('a'), K1.id);
    assertSealed(await raw('b'), K1.id);
    assert.notEqual((await raw('a'))!.split(':')[3], (await raw('b'))!.split(':')[3], 'a fresh IV per write');
    assert.deepEqual(await repo.getEndpoint('a'), record('a'));
    assert.deepEqual((await repo.listEndpoints()).sort((x, y) => x.id.localeCompare(y.id)), [record('a'), record('b')]);
    // A value copied under another record's key does not open there (the key is bound in).
    await redis.set(`${prefix}dlv:ep:c`, (await raw('a'))!);
    await redis.sadd(`${prefix}dlv:eps`, 'c');
    await assert.rejects(repo.getEndpoint('c'), (err: GatewayError) => err.code === 'HG_ENDPOINT_UNREADABLE' && /endpoint "c" fails its integrity check/.test(err.message));
    await repo.deleteEndpoint('c');
  });

  test('rotation: encryptionKey=key2 with previous=[key1] reads key1 records and re-encrypts them under key2', async () => {
    await repo.putEndpoint(record('r1'));
    await repo.putEndpoint(record('r2'));
    assertSealed(await raw('r1'), K1.id);
    sealer = new RecordSealer(K2, [K1]);
    assert.deepEqual(await repo.getEndpoint('r1'), record('r1'));
    assertSealed(await raw('r1'), K2.id);
    // Listing (what every start and reload does) migrates the rest.
    assertSealed(await raw('r2'), K1.id);
    await repo.listEndpoints();
    assertSealed(await raw('r2'), K2.id);
    // Once everything is re-encrypted, key1 can go.
    sealer = new RecordSealer(K2);
    assert.deepEqual(await repo.getEndpoint('r2'), record('r2'));
    // Writes use the current key.
    await repo.putEndpoint({ ...record('r3'), description: 'new' });
    assertSealed(await raw('r3'), K2.id);
  });

  test('a wrong key is HG_ENDPOINT_UNREADABLE naming the key ids, not plaintext; the value stays as it was', async () => {
    sealer = new RecordSealer(K1);
    await repo.putEndpoint(record('w'));
    const before = await raw('w');
    sealer = new RecordSealer(K2);
    for (const read of [() => repo.getEndpoint('w'), () => repo.listEndpoints()]) {
      await assert.rejects(read(), (err: unknown) => {
        assert.ok(err instanceof GatewayError, String(err));
        assert.equal(err.code, 'HG_ENDPOINT_UNREADABLE');
        assert.match(err.message, new RegExp(`endpoint "w" is encrypted with key id ${K1.id}, which is not among egress.encryptionKey \\(key id ${K2.id}\\)`));
        assert.ok(!err.message.includes(SECRET) && !err.message.includes(HEADER_VALUE));
        return true;
      });
    }
    assert.equal(await raw('w'), before, 'an unreadable record is not overwritten');
    // Without any key the sealed record is refused too, never returned as ciphertext.
    sealer = PLAINTEXT;
    await assert.rejects(repo.getEndpoint('w'), (err: GatewayError) => err.code === 'HG_ENDPOINT_UNREADABLE' && /egress\.encryptionKey is not set/.test(err.message));
    sealer = new RecordSealer(K1);
    await repo.deleteEndpoint('w');
  });

  test('turning encryption on seals plaintext records on read; previous keys alone turn it off again', async () => {
    sealer = PLAINTEXT;
    await repo.putEndpoint(record('p'));
    assert.ok((await raw('p'))!.includes(SECRET), 'without a key: plaintext JSON, as before');
    sealer = new RecordSealer(K1);
    assert.deepEqual(await repo.getEndpoint('p'), record('p'));
    assertSealed(await raw('p'), K1.id);
    sealer = new RecordSealer(undefined, [K1]);
    assert.deepEqual(await repo.getEndpoint('p'), record('p'));
    assert.deepEqual(JSON.parse((await raw('p'))!), record('p'), 'written back as plaintext');
  });

  test('a rewrite never clobbers a change made meanwhile by another instance', async () => {
    sealer = new RecordSealer(K1);
    await repo.putEndpoint(record('cas'));
    const old = (await raw('cas'))!;
    // Another instance (already on key2) changes the record between this one's read and rewrite.
    sealer = new RecordSealer(K2, [K1]);
    const newer = sealer.seal(JSON.stringify({ ...record('cas'), description: 'changed meanwhile' }), 'ep:cas');
    const r = redis as Redis & { hgSetIfUnchanged(k: string, was: string, v: string): Promise<unknown> };
    await redis.set(`${prefix}dlv:ep:cas`, newer);
    assert.equal(await r.hgSetIfUnchanged(`${prefix}dlv:ep:cas`, old, 'clobbered'), 0);
    assert.equal(await raw('cas'), newer);
    assert.equal((await repo.getEndpoint('cas'))?.description, 'changed meanwhile');
  });
});
