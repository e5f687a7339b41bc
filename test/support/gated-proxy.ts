/**
 * A TCP proxy on loopback in front of a Redis that passes its first `passFirst` connections and
 * holds the later ones (accepted, nothing forwarded) until {@link GatedProxy.open}: a client on a
 * held connection stays short of `ready` for real, while the ones before it work.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface GatedProxy {
  port: number;
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Forwards the held connections and every later one. */
  open(): void;
  close(): Promise<void>;
}

export async function startGatedProxy(targetPort: number, passFirst: number): Promise<GatedProxy> {
  const sockets = new Set<Socket>();
  const held: Socket[] = [];
  let accepted = 0;
  let gateOpen = false;
  const forward = (client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    // A held client's bytes (its ready check) wait in its paused socket and flow now.
    client.pipe(upstream).pipe(client);
  };
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (++accepted <= passFirst || gateOpen) return forward(client);
    client.on('error', () => {});
    held.push(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    open() {
      gateOpen = true;
      for (const c of held.splice(0)) if (!c.destroyed) forward(c);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
