/**
 * Tenants in gateway.yaml: a config endpoint naming an undeclared tenant, a duplicate tenant id and
 * more config endpoints than a tenant's maxEndpoints are located config errors (compile, so
 * `hookgate validate`, start and reload refuse them); endpoints without a tenant are the default's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { closeSnapshot } from '../../gateway/compile.js';
import { ConfigError } from '../../gateway/errors.js';
import { compileText } from '../support/snapshot.js';

const BASE = `
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
`;

async function refused(yaml: string, where: RegExp, what: RegExp): Promise<void> {
  await assert.rejects(compileText(yaml), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, where);
    assert.match(err.message, what);
    assert.equal(err.code, 'HG_CONFIG_INVALID');
    return true;
  });
}

describe('tenants in gateway.yaml', () => {
  test('an endpoint naming a tenant that tenants does not declare is a located config error', async () => {
    await refused(
      `tenants:\n  - { id: acme }\n${BASE}    - { id: a, url: "http://127.0.0.1:9/a", tenant: acme }\n    - { id: b, url: "http://127.0.0.1:9/b", tenant: globex }\n`,
      /gateway\.yaml:8 at egress\.endpoints\[1\]\.tenant/,
      /endpoint "b" names tenant "globex", which tenants does not declare/,
    );
  });

  test('a duplicate tenant id is a located config error', async () => {
    await refused(`tenants:\n  - { id: acme }\n  - { id: acme, name: again }\n${BASE}    - { id: a, url: "http://127.0.0.1:9/a" }\n`, /gateway\.yaml:3 at tenants\[1\]\.id/, /duplicate tenant id "acme"/);
  });

  test("more config endpoints than the tenant's maxEndpoints is a located config error", async () => {
    await refused(
      `tenants:\n  - { id: acme, quotas: { maxEndpoints: 1 } }\n${BASE}    - { id: a, url: "http://127.0.0.1:9/a", tenant: acme }\n    - { id: b, url: "http://127.0.0.1:9/b", tenant: acme }\n`,
      /at egress\.endpoints\[1\]\.tenant/,
      /tenant "acme" declares maxEndpoints 1/,
    );
  });

  test('endpoints without a tenant are the default tenant\'s, which needs no declaration; declaring it is allowed', async () => {
    const snap = await compileText(`${BASE}    - { id: a, url: "http://127.0.0.1:9/a" }\n`);
    assert.equal(snap.egress.endpoints[0]!.tenant, 'default');
    const declared = await compileText(`tenants:\n  - { id: default, quotas: { publishPerSec: 100 } }\n${BASE}    - { id: a, url: "http://127.0.0.1:9/a", tenant: default }\n`);
    assert.equal(declared.config.tenants[0]!.id, 'default');
    for (const s of [snap, declared]) await closeSnapshot(s, pino({ level: 'silent' }));
  });
});
