/**
 * Endpoint secrets without Redis: HKDF derivation, AES-256-GCM sealing and key parsing
 * (secret-keys.ts), and the endpoint directory's handling of config secrets (derived, versioned,
 * generated), rotation of derived secrets, and the not-durable warning.
 */
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { DERIVED_ROTATION_GRACE_MS, EndpointDirectory } from '../../gateway/delivery/endpoints.js';
import { OperationalEvents } from '../../gateway/delivery/operational.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { deriveEndpointSecret, parseEncryptionKey, RecordSealer, recordSealerOf } from '../../gateway/delivery/secret-keys.js';
import { webhookHeaders } from '../../gateway/delivery/sign.js';
import { GatewayError } from '../../gateway/errors.js';
import { memoryLogger } from '../support/gateway.js';
import { compileConfig } from '../support/snapshot.js';

const MASTER = 'test-master-key-0123456789abcdef-0123456789';
const KEY1 = Buffer.alloc(32, 1).toString('base64');
const KEY2 = Buffer.alloc(32, 2).toString('hex');
const disposals: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of disposals) await d();
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GatewayError ? err.code : `not a GatewayError: ${(err as Error).message}`;
  }
  return undefined;
}

describe('deriveEndpointSecret (HKDF-SHA256)', () => {
  test('is whsec_ + base64 of HKDF(secretKey, salt, "<id>:<version>", 32 bytes): stable, and different per id and version', () => {
    const s = deriveEndpointSecret(MASTER, 'acme', 1);
    const expected = Buffer.from(hkdfSync('sha256', Buffer.from(MASTER), 'hookgate/endpoint-secret/v1', 'acme:1', 32)).toString('base64');
    assert.equal(s, `whsec_${expected}`);
    assert.equal(deriveEndpointSecret(MASTER, 'acme', 1), s, 'the same inputs give the same secret');
    assert.notEqual(deriveEndpointSecret(MASTER, 'acme', 2), s, 'the version changes it');
    assert.notEqual(deriveEndpointSecret(MASTER, 'acme2', 1), s, 'the id changes it');
    assert.notEqual(deriveEndpointSecret(`${MASTER}x`, 'acme', 1), s, 'the master key changes it');
    // A Standard Webhooks library accepts it as a secret and verifies what hookgate signs with it.
    const body = '{"type":"a.b","data":{}}';
    const headers = webhookHeaders('msg_1', Math.floor(Date.now() / 1000), body, [s]);
    assert.deepEqual(new Webhook(s).verify(body, headers), JSON.parse(body));
  });
});

describe('encryption keys', () => {
  test('32 bytes as base64 (standard, URL-safe, unpadded) or 64 hex characters; the key id does not depend on the form', () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i));
    const forms = [raw.toString('base64'), raw.toString('base64url'), raw.toString('base64').replace(/=$/, ''), raw.toString('hex'), raw.toString('hex').toUpperCase()];
    const ids = forms.map((f) => parseEncryptionKey(f).id);
    assert.ok(forms.every((f) => parseEncryptionKey(f).key.equals(raw)));
    assert.equal(new Set(ids).size, 1);
    assert.match(ids[0]!, /^[0-9a-f]{8}$/);
    assert.notEqual(parseEncryptionKey(KEY1).id, parseEncryptionKey(KEY2).id);
  });

  test('anything else is refused with a message that says what is expected and never quotes the value', () => {
    const bad = ['short', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64'), 'z'.repeat(64), `${KEY2}00`, ''];
    for (const b of bad) {
      assert.throws(() => parseEncryptionKey(b), (err: Error) => {
        assert.match(err.message, /32 bytes/);
        if (b.length > 3) assert.ok(!err.message.includes(b), `the message quotes the value: ${err.message}`);
        return true;
      });
    }
    assert.throws(() => recordSealerOf({ encryptionKey: KEY1, previousEncryptionKeys: [KEY2, 'nope'] }), (err: Error & { path?: unknown }) => {
      assert.deepEqual(err.path, ['previousEncryptionKeys', 1]);
      return true;
    });
  });

  test('a config with a bad key is a located config error naming the path and line, not the value', async () => {
    const { compileText } = await import('../support/snapshot.js');
    const secretText = 'not-a-key-but-secret-text-0123456789';
    await assert.rejects(
      compileText(`egress:\n  allowCidrs: ["127.0.0.1/32"]\n  encryptionKey: "${KEY1}"\n  previousEncryptionKeys:\n    - "${KEY2}"\n    - "${secretText}"\n`),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'HG_CONFIG_INVALID');
        assert.match(err.message, /gateway\.yaml:6 at egress\.previousEncryptionKeys\[1\]: /);
        assert.match(err.message, /32 bytes/);
        assert.ok(!err.message.includes(secretText), err.message);
        return true;
      },
    );
    await assert.rejects(compileText(`egress:\n  encryptionKey: "${'ab'.repeat(31)}"\n`), /gateway\.yaml:2 at egress\.encryptionKey: expected 32 bytes/);
  });
});

describe('RecordSealer (AES-256-GCM)', () => {
  const k1 = parseEncryptionKey(KEY1);
  const k2 = parseEncryptionKey(KEY2);
  const text = JSON.stringify({ secret: 'whsec_top-secret-value', headers: { authorization: 'Bearer header-value' } });

  test('seals with a fresh IV each time, names the key id, and opens to the same text', () => {
    const s = new RecordSealer(k1);
    const a = s.seal(text, 'ctx');
    const b = s.seal(text, 'ctx');
    assert.notEqual(a, b, 'a random IV per write');
    for (const v of [a, b]) {
      assert.ok(v.startsWith(`hgenc:1:${k1.id}:`), v);
      assert.ok(!v.includes('top-secret') && !v.includes('header-value'));
      assert.deepEqual(s.open(v, 'ctx', 'x'), { text, stale: false });
    }
    const iv = Buffer.from(a.split(':')[3]!, 'base64');
    assert.equal(iv.length, 12, '96-bit IV');
  });

  test('previous keys open (stale: to be written again); plaintext opens stale once a key is set', () => {
    const old = new RecordSealer(k1).seal(text, 'ctx');
    const rotated = new RecordSealer(k2, [k1]);
    assert.deepEqual(rotated.open(old, 'ctx', 'x'), { text, stale: true });
    assert.deepEqual(rotated.open(text, 'ctx', 'x'), { text, stale: true });
    assert.deepEqual(new RecordSealer(undefined).open(text, 'ctx', 'x'), { text, stale: false });
    // Only previous keys: decrypt-only, writes plaintext (turning encryption off).
    const off = new RecordSealer(undefined, [k1]);
    assert.deepEqual(off.open(old, 'ctx', 'x'), { text, stale: true });
    assert.equal(off.seal(text, 'ctx'), text);
  });

  test('a missing key, another context, or a changed byte is HG_ENDPOINT_UNREADABLE naming key ids, never the plaintext', () => {
    const sealed = new RecordSealer(k1).seal(text, 'ctx');
    const errorOf = (s: RecordSealer, v: string, ctx = 'ctx') => {
      try {
        s.open(v, ctx, 'endpoint "x"');
      } catch (err) {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'HG_ENDPOINT_UNREADABLE');
        assert.equal(err.status, 500);
        assert.ok(!err.message.includes('top-secret') && !err.message.includes(KEY1) && !err.message.includes(KEY2), err.message);
        return err.message;
      }
      assert.fail('opened');
    };
    const missing = errorOf(new RecordSealer(k2), sealed);
    assert.match(missing, new RegExp(`key id ${k1.id}`));
    assert.match(missing, new RegExp(`egress.encryptionKey \\(key id ${k2.id}\\)`));
    assert.match(errorOf(new RecordSealer(undefined), sealed), /egress\.encryptionKey is not set/);
    assert.match(errorOf(new RecordSealer(k1), sealed, 'other'), /integrity check/);
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[4]!, 'base64');
    ct[0]! ^= 1;
    assert.match(errorOf(new RecordSealer(k1), [...parts.slice(0, 4), ct.toString('base64')].join(':')), /integrity check/);
    assert.match(errorOf(new RecordSealer(k1), `hgenc:1:${k1.id}:garbage`), /damaged/);
    // A key id that collides with the right one but is another key fails the check, never opens.
    const impostor = { id: k1.id, key: k2.key };
    assert.equal(codeOf(() => new RecordSealer(impostor).open(sealed, 'ctx', 'x')), 'HG_ENDPOINT_UNREADABLE');
    assert.deepEqual(new RecordSealer(impostor, [k1]).open(sealed, 'ctx', 'x'), { text, stale: true }, 'every key with the id is tried');
  });
});

async function directory(egress: Record<string, unknown>, opts: { durable?: boolean } = {}) {
  let clock = 1_000_000;
  let snapshot = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], ...egress } });
  disposals.push(() => snapshot.dispose());
  const repo = new MemoryRepository(() => clock);
  const now = () => clock;
  const log = memoryLogger('warn');
  const ops = new OperationalEvents({ logger: log.logger, now, snapshot: () => snapshot });
  const dir = new EndpointDirectory({ repo, logger: log.logger, now, snapshot: () => snapshot, events: ops, durable: opts.durable });
  return {
    dir,
    repo,
    log,
    tick: (ms: number) => (clock += ms),
    now,
    async reconfigure(next: Record<string, unknown>) {
      const s = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], ...next } });
      disposals.push(() => s.dispose());
      snapshot = s;
      await dir.sync();
    },
  };
}

const URL = 'http://127.0.0.1:9/hook';

describe('config endpoint secrets', () => {
  test('with egress.secretKey: derived, and the same after the store lost everything', async () => {
    const { dir, repo } = await directory({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL }] });
    await dir.sync();
    const ep = (await dir.find('cfg'))!;
    assert.deepEqual(dir.signingSecrets(ep), [deriveEndpointSecret(MASTER, 'cfg', 1)]);
    await repo.deleteEndpoint('cfg');
    // The directory restores it (find, get and all do), with the same secret.
    assert.deepEqual(dir.signingSecrets((await dir.find('cfg'))!), [deriveEndpointSecret(MASTER, 'cfg', 1)]);
    const fresh = await directory({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL }] });
    await fresh.dir.sync();
    assert.deepEqual(fresh.dir.signingSecrets((await fresh.dir.get('cfg'))!), [deriveEndpointSecret(MASTER, 'cfg', 1)], 'another instance, an empty store: the same secret');
  });

  test('raising secretVersion rotates: the new derived secret first, the old one live for 24 h, then gone', async () => {
    const d = await directory({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL }] });
    await d.dir.sync();
    const v1 = deriveEndpointSecret(MASTER, 'cfg', 1);
    const v2 = deriveEndpointSecret(MASTER, 'cfg', 2);
    await d.reconfigure({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL, secretVersion: 2 }] });
    const ep = (await d.dir.find('cfg'))!;
    assert.deepEqual(d.dir.signingSecrets(ep), [v2, v1]);
    assert.equal(ep.secrets[1]!.expiresAt, d.now() + DERIVED_ROTATION_GRACE_MS);
    // A second sync changes nothing (idempotent): the grace period does not restart.
    d.tick(1000);
    await d.dir.sync();
    assert.equal((await d.dir.find('cfg'))!.secrets[1]!.expiresAt, ep.secrets[1]!.expiresAt);
    d.tick(DERIVED_ROTATION_GRACE_MS);
    assert.deepEqual(d.dir.signingSecrets((await d.dir.find('cfg'))!), [v2]);
  });

  test('moving from a stored generated secret to secretKey keeps the old one signing through the grace period', async () => {
    const d = await directory({ endpoints: [{ id: 'cfg', url: URL }] });
    await d.dir.sync();
    const generated = d.dir.signingSecrets((await d.dir.find('cfg'))!)[0]!;
    await d.dir.sync();
    assert.deepEqual(d.dir.signingSecrets((await d.dir.find('cfg'))!), [generated], 'without secretKey: generated once, kept');
    await d.reconfigure({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL }] });
    assert.deepEqual(d.dir.signingSecrets((await d.dir.find('cfg'))!), [deriveEndpointSecret(MASTER, 'cfg', 1), generated]);
  });

  test('secret: in gateway.yaml wins over secretKey', async () => {
    const own = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const d = await directory({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL, secret: own }] });
    await d.dir.sync();
    assert.deepEqual(d.dir.signingSecrets((await d.dir.find('cfg'))!), [own]);
    // Its rotation through the API stays allowed, as before.
    const r = await d.dir.rotateSecret((await d.dir.find('cfg'))!, 0);
    assert.match(r.secret, /^whsec_/);
  });

  test('rotate-secret on a derived config secret is HG_ENDPOINT_READONLY pointing at secretVersion; API endpoints still rotate', async () => {
    const d = await directory({ secretKey: MASTER, endpoints: [{ id: 'cfg', url: URL, secretVersion: 3 }] });
    await d.dir.sync();
    await assert.rejects(d.dir.rotateSecret((await d.dir.find('cfg'))!, 0), (err: GatewayError) => {
      assert.equal(err.code, 'HG_ENDPOINT_READONLY');
      assert.match(err.message, /secretVersion in gateway\.yaml \(now 3\)/);
      return true;
    });
    assert.deepEqual(d.dir.signingSecrets((await d.dir.find('cfg'))!), [deriveEndpointSecret(MASTER, 'cfg', 3)], 'unchanged');
    const { endpoint } = await d.dir.create('api', { url: URL });
    const r = await d.dir.rotateSecret(endpoint, 0);
    assert.deepEqual(d.dir.revealSecrets((await d.dir.find('api'))!).map((s) => s.secret), [r.secret]);
  });

  test('HG_ENDPOINT_SECRET_NOT_DURABLE: logged once with a durable store, config endpoints without secret and no secretKey', async () => {
    const warned = (l: ReturnType<typeof memoryLogger>) => l.lines.filter((x) => x.code === 'HG_ENDPOINT_SECRET_NOT_DURABLE');
    const d = await directory({ endpoints: [{ id: 'gen', url: URL }, { id: 'own', url: URL, secret: `whsec_${Buffer.alloc(32, 3).toString('base64')}` }] }, { durable: true });
    await d.dir.sync();
    await d.dir.sync();
    assert.equal(warned(d.log).length, 1);
    assert.deepEqual(warned(d.log)[0].endpoints, ['gen']);
    assert.ok(!JSON.stringify(d.log.lines).includes('whsec_'), 'no secret in the log');
    for (const quiet of [
      await directory({ endpoints: [{ id: 'gen', url: URL }] }, { durable: false }),
      await directory({ secretKey: MASTER, endpoints: [{ id: 'gen', url: URL }] }, { durable: true }),
      await directory({ endpoints: [] }, { durable: true }),
    ]) {
      await quiet.dir.sync();
      assert.equal(warned(quiet.log).length, 0);
    }
  });
});
