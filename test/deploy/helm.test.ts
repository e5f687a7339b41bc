import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfigText } from '../../gateway/config/load.js';
import { packageRoot } from '../../gateway/paths.js';
import { mergeValues, renderTemplate, type RenderContext } from '../support/helm-subset.js';

// `helm template deploy/helm/hookgate` is the real check (README: Containers and Kubernetes);
// helm does not install here, so the chart is rendered by a renderer of the subset it uses.
const chartDir = join(packageRoot, 'deploy', 'helm', 'hookgate');
const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { apiVersion: string; name: string; version: string; appVersion: string };
const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const pkgVersion = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

type Manifest = Record<string, any>;

function render(overrides: Record<string, unknown> = {}): Manifest[] {
  const ctx: RenderContext = {
    Values: mergeValues(defaults, overrides),
    Release: { Name: 'rel', Namespace: 'hooks' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const out: Manifest[] = [];
  for (const file of readdirSync(join(chartDir, 'templates')).filter((f) => f.endsWith('.yaml')).sort()) {
    const text = renderTemplate(readFileSync(join(chartDir, 'templates', file), 'utf8'), ctx, file);
    for (const doc of parseAllDocuments(text)) {
      assert.deepEqual(doc.errors.map((e) => e.message), [], `${file} renders valid YAML`);
      const m = doc.toJS() as Manifest | null;
      if (m !== null) out.push(m);
    }
  }
  return out;
}

const byKind = (ms: Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);
const one = (ms: Manifest[], kind: string): Manifest => {
  const found = byKind(ms, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};

test('Chart.yaml is a v2 application chart whose appVersion and image tag are the package version', () => {
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'hookgate');
  assert.match(chart.version, /^\d+\.\d+\.\d+$/);
  assert.equal(chart.appVersion, pkgVersion);
  assert.equal((defaults.image as { tag: string }).tag, pkgVersion);
});

test('the default values render every resource with the required fields, one release name and one selector', () => {
  const ms = render();
  assert.deepEqual(ms.map((m) => m.kind).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
  for (const m of ms) {
    assert.ok(typeof m.apiVersion === 'string' && m.apiVersion, `${m.kind} has apiVersion`);
    assert.equal(m.metadata.name, 'rel-hookgate', `${m.kind} name`);
    assert.equal(m.metadata.namespace, 'hooks', `${m.kind} namespace`);
    assert.equal(m.metadata.labels['app.kubernetes.io/instance'], 'rel');
  }
  const selector = { 'app.kubernetes.io/name': 'hookgate', 'app.kubernetes.io/instance': 'rel' };
  const dep = one(ms, 'Deployment');
  assert.deepEqual(dep.spec.selector.matchLabels, selector);
  assert.deepEqual(dep.spec.template.metadata.labels, selector);
  assert.deepEqual(one(ms, 'Service').spec.selector, selector);
  assert.deepEqual(one(ms, 'PodDisruptionBudget').spec.selector.matchLabels, selector);
  assert.equal(one(ms, 'PodDisruptionBudget').spec.minAvailable, 1);
  const hpa = one(ms, 'HorizontalPodAutoscaler');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'rel-hookgate' });
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  assert.equal(dep.spec.replicas, undefined, 'with the HPA on, the Deployment leaves replicas to it');
  // The HPA's CPU target needs a CPU request.
  assert.ok(dep.spec.template.spec.containers[0].resources.requests.cpu);
});

test('the Deployment probes /healthz and /readyz, runs non-root and mounts the ConfigMap as a directory', () => {
  const dep = one(render(), 'Deployment');
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(c.startupProbe.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 10001);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.image, `hookgate:${pkgVersion}`);
  assert.deepEqual(c.args, ['start', '--config', '/etc/hookgate/gateway.yaml']);
  // Hot reload: the directory mount gets the ..data symlink swap; a subPath mount never updates.
  const mount = c.volumeMounts.find((v: Manifest) => v.name === 'config');
  assert.equal(mount.mountPath, '/etc/hookgate');
  assert.equal(mount.subPath, undefined);
  assert.equal(pod.volumes.find((v: Manifest) => v.name === 'config').configMap.name, 'rel-hookgate');
  assert.equal(c.envFrom[0].secretRef.name, 'rel-hookgate');
  assert.ok(pod.terminationGracePeriodSeconds >= 30);
  // The ports the config listens on come from the same values as the container ports.
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  const ports = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, String(p.containerPort)]));
  assert.deepEqual([env.HOOKGATE_PORT, env.HOOKGATE_ADMIN_PORT, env.HOOKGATE_METRICS_PORT], [ports.http, ports.admin, ports.metrics]);
});

test('the ConfigMap holds a gateway.yaml that hookgate accepts with the Deployment env and the Secret keys', () => {
  const ms = render({ secret: { values: { HOOKGATE_ADMIN_TOKEN: 'a-long-admin-token', REDIS_URL: 'redis://redis:6379', PUBLISHER_API_KEY: 'pk-123456' } } });
  const text = one(ms, 'ConfigMap').data['gateway.yaml'] as string;
  const c = one(ms, 'Deployment').spec.template.spec.containers[0];
  const env: NodeJS.ProcessEnv = { ...Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value])), ...one(ms, 'Secret').stringData };
  const { config } = loadConfigText(text, '/etc/hookgate/gateway.yaml', env);
  assert.equal(config.listen.port, 8080);
  assert.equal(config.listen.host, '0.0.0.0');
  assert.equal(config.metrics?.port, 9464);
  assert.equal(config.store.driver, 'redis');
  // Every ${VAR} without a default is given by the Deployment or the Secret: none is missing.
  const refs = [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
  assert.deepEqual(refs.filter((r) => !(r in env)), []);
  // With the Secret's empty defaults the pod refuses to start, naming the variable.
  assert.throws(() => loadConfigText(text, 'gateway.yaml', { ...env, HOOKGATE_ADMIN_TOKEN: '' }), /HOOKGATE_ADMIN_TOKEN is not set/);
});

test('the optional parts: ServiceMonitor, fixed replicas without the HPA, an existing Secret, the admin port', () => {
  const ms = render({ serviceMonitor: { enabled: true }, autoscaling: { enabled: false }, podDisruptionBudget: { enabled: false }, secret: { create: false, name: 'my-secret' }, service: { exposeAdmin: true } });
  const sm = one(ms, 'ServiceMonitor');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(sm.spec.endpoints[0], { port: 'metrics', path: '/metrics', interval: '30s' });
  assert.deepEqual(byKind(ms, 'HorizontalPodAutoscaler'), []);
  assert.deepEqual(byKind(ms, 'PodDisruptionBudget'), []);
  assert.deepEqual(byKind(ms, 'Secret'), []);
  const dep = one(ms, 'Deployment');
  assert.equal(dep.spec.replicas, 2);
  assert.equal(dep.spec.template.spec.containers[0].envFrom[0].secretRef.name, 'my-secret');
  const svcPorts = one(ms, 'Service').spec.ports.map((p: { name: string }) => p.name);
  assert.deepEqual(svcPorts, ['http', 'metrics', 'admin']);
  assert.deepEqual(one(render(), 'Service').spec.ports.map((p: { name: string }) => p.name), ['http', 'metrics']);
});

test('the renderer refuses what is outside its subset and what has no value', () => {
  const ctx: RenderContext = { Values: { a: { b: 1 }, m: { k: 'v' } }, Release: { Name: 'r', Namespace: 'n' }, Chart: { Name: 'c', Version: '1', AppVersion: '1' } };
  assert.equal(renderTemplate('x: {{ .Values.a.b }}\n{{- if .Values.m }}\ny: {{ .Values.m.k | quote }}\n{{- end }}', ctx), 'x: 1\ny: "v"');
  assert.equal(renderTemplate('m:\n  {{- toYaml .Values.m | nindent 2 }}', ctx), 'm:\n  k: v');
  assert.throws(() => renderTemplate('{{ include "x" . }}', ctx), /unsupported/);
  assert.throws(() => renderTemplate('{{ .Values.missing }}', ctx), /has no value/);
  assert.throws(() => renderTemplate('{{ .Values.m }}', ctx), /toYaml/);
  assert.throws(() => renderTemplate('{{- if .Values.a }}', ctx), /without \{\{ end \}\}/);
});
