import { startGateway, type TestGateway } from './gateway.js';
import type { Protocol } from './tls.js';

/** One upstream `main` proxied under /api/*, with optional extra upstream settings. */
export function proxyYaml(targets: { url: string; weight?: number }[], extra = '', limits = ''): string {
  const t = targets.map((x) => `{ url: "${x.url}"${x.weight ? `, weight: ${x.weight}` : ''} }`).join(', ');
  return `
${limits}
upstreams:
  main:
    targets: [ ${t} ]
${extra}
routes:
  - name: api
    path: /api/*
    upstream: main
`;
}

export async function withGateway(yaml: string, fn: (g: TestGateway) => Promise<void>, protocol: Protocol = 'http1'): Promise<void> {
  const g = await startGateway(yaml, { protocol });
  try {
    await fn(g);
  } finally {
    await g.stop();
  }
}
