import { connect, type Socket } from 'node:net';

/** A raw TCP client on loopback, for slow, partial and malformed HTTP/1 clients. */
export interface RawClient {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves once the server closed the connection (or it failed); with ms since connect. */
  closed: Promise<number>;
  isClosed(): boolean;
  write(data: string | Buffer): void;
  destroy(): void;
}

/** Connects to 127.0.0.1:`port` (from `localAddress`, another loopback address, when given). */
export function rawConnect(port: number, localAddress?: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const chunks: Buffer[] = [];
    let done = false;
    let started = 0;
    const closed = new Promise<number>((r) => {
      socket.on('close', () => {
        done = true;
        r(performance.now() - started);
      });
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset by the server is one way of closing; the test looks at `closed`.
    socket.on('error', () => {});
    socket.once('connect', () => {
      started = performance.now();
      resolve({
        socket,
        received: () => Buffer.concat(chunks).toString('latin1'),
        closed,
        isClosed: () => done,
        write: (d) => void socket.write(d),
        destroy: () => socket.destroy(),
      });
    });
    socket.once('error', (e) => {
      if (!started) reject(e);
    });
  });
}

/** Sends `data` on a fresh connection and resolves with all the server sent once it closed. */
export async function rawExchange(port: number, data: string | Buffer, timeoutMs = 10_000): Promise<string> {
  const c = await rawConnect(port);
  c.write(data);
  await within(c.closed, timeoutMs, 'the server to close the connection');
  return c.received();
}

/** Fails when `p` has not settled within `ms` (a deadline, not a sleep). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The status and parsed JSON body of the first HTTP response in `raw`. */
export function parseResponse(raw: string): { status: number; headers: string; json: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const split = raw.indexOf('\r\n\r\n');
  const headers = split === -1 ? raw : raw.slice(0, split);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? -1);
  const body = split === -1 ? '' : length >= 0 ? raw.slice(split + 4, split + 4 + length) : raw.slice(split + 4);
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers, json };
}
