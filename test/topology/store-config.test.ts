/**
 * The `store` topologies as config (schema plus the cross-field checks, located HG_CONFIG_INVALID
 * errors that never echo a password) and the outage classification of Cluster and Sentinel errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../gateway/config/load.js';
import { ConfigError } from '../../gateway/errors.js';
import { redactSecrets } from '../../gateway/security/redact.js';
import { isStoreOutage } from '../../gateway/store/redis-connection.js';
import { describeTarget, parseNode, resolveTarget, slottedPrefix } from '../../gateway/store/redis-topology.js';

const load = (store: string, env: NodeJS.ProcessEnv = {}) => loadConfigText(`store: ${store}\nroutes: []\n`, '/cfg/gateway.yaml', env);

function refused(store: string, pattern: RegExp, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(store, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, 'HG_CONFIG_INVALID');
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`accepted store: ${store}`);
}

describe('store topology config', () => {
  it('accepts a cluster with both node spellings, a sentinel, TLS, ACL auth from ${ENV}, and defaults durability to primary', () => {
    const c = load('{ driver: redis, cluster: { nodes: ["10.0.0.1:6379", { host: 10.0.0.2, port: 6380 }] }, username: hg, password: "${PW}", tls: { ca: ca.pem } }', { PW: 'pw-from-env' }).config.store;
    assert.deepEqual(c.cluster!.nodes.map(parseNode), [{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6380 }]);
    assert.equal(c.password, 'pw-from-env');
    assert.equal(c.durability, 'primary');
    assert.equal(c.waitTimeoutMs, 1000);
    assert.equal(c.tls!.rejectUnauthorized, true);
    const s = load('{ driver: redis, sentinel: { name: mymaster, sentinels: ["127.0.0.1:26379"], password: x }, durability: replicated }').config.store;
    assert.equal(s.sentinel!.name, 'mymaster');
    assert.equal(s.durability, 'replicated');
  });

  it('refuses two topologies at once, naming the second, at its line', () => {
    const err = refused('{ driver: redis, url: "redis://127.0.0.1:6379", cluster: { nodes: ["127.0.0.1:7000"] } }', /store\.url and store\.cluster are both set/);
    assert.equal(err.path, 'store.cluster');
    refused('{ driver: redis, cluster: { nodes: ["127.0.0.1:7000"] }, sentinel: { name: m, sentinels: ["127.0.0.1:26379"] } }', /store\.cluster and store\.sentinel are both set/);
  });

  it('refuses Redis settings and replicated durability on the memory store', () => {
    refused('{ driver: memory, cluster: { nodes: ["127.0.0.1:7000"] } }', /store\.cluster needs store\.driver: redis/);
    refused('{ driver: memory, durability: replicated }', /replicated needs store\.driver: redis/);
  });

  it('refuses malformed nodes and a sentinel without a name; a bad password never shows', () => {
    refused('{ driver: redis, cluster: { nodes: ["no-port"] } }', /store\.cluster\.nodes\[0\]/);
    refused('{ driver: redis, cluster: { nodes: [] } }', /store\.cluster\.nodes/);
    refused('{ driver: redis, sentinel: { sentinels: ["127.0.0.1:26379"] } }', /missing required key "name"/);
    const err = refused('{ driver: redis, password: 12345678901 }', /store\.password/);
    assert.doesNotMatch(err.message, /12345678901/);
  });

  it('describes a target without its password; tags keys only on Cluster', () => {
    assert.equal(describeTarget(resolveTarget(load('{ driver: redis, url: "redis://u:secret@10.0.0.1:6379" }').config.store)), 'redis://***@10.0.0.1:6379');
    assert.equal(describeTarget(resolveTarget(load('{ driver: redis, sentinel: { name: m, sentinels: ["a:1", "b:2"], password: secret } }').config.store)), 'redis sentinel m@a:1,b:2');
    const view = JSON.stringify(redactSecrets(load('{ driver: redis, password: data-pw, sentinel: { name: m, sentinels: ["a:1"], password: sentinel-pw } }').config));
    assert.doesNotMatch(view, /data-pw|sentinel-pw/, 'the admin config view redacts both passwords');
    assert.equal(slottedPrefix('hookgate:', false), 'hookgate:');
    assert.equal(slottedPrefix('hookgate:', true), 'hookgate:{hgq:hookgate:}:');
  });
});

/** What ioredis rejects with for a Redis error reply. */
const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('isStoreOutage on Cluster and Sentinel', () => {
  it('counts a cluster mid-failover and a demoted primary as an outage, a bad command not', () => {
    for (const m of ['CLUSTERDOWN The cluster is down', 'MOVED 3999 127.0.0.1:6381', 'TRYAGAIN Multiple keys request during rehashing of slot', 'READONLY You can\'t write against a read only replica.', 'NOREPLICAS Not enough good replicas to write.']) assert.ok(isStoreOutage(reply(m)), m);
    for (const m of ['Failed to refresh slots cache.', 'None of startup nodes is available', "Cluster isn't ready and enableOfflineQueue options is false", 'Too many Cluster redirections. Last error: Error: CLUSTERDOWN', 'All sentinels are unreachable. Retrying from scratch after 10ms.']) assert.ok(isStoreOutage(new Error(m)), m);
    assert.equal(isStoreOutage(reply("ERR unknown command 'FOO'")), false);
    assert.equal(isStoreOutage(reply('CROSSSLOT Keys in request don\'t hash to the same slot')), false, 'a key layout bug is a 500, not an outage');
  });
});
