import type { Socket } from 'node:net';

/**
 * The connections the gateway has decided to close (it answered `Connection: close`, e.g. a 413
 * with the body unread, or the client asked for it). A request pipelined behind such an answer
 * is already parsed by the time the answer goes out; it must not run. Checking costs one
 * comparison while no connection is closing.
 */
export class ClosingConnections<T> {
  private readonly sockets = new WeakSet<Socket>();
  private count = 0;
  /** Per HTTP/1 connection with an exchange running: the pipelined ones waiting behind it. */
  private readonly waiting = new WeakMap<Socket, T[]>();

  /**
   * Runs an HTTP/1 exchange now, or after the ones before it on its connection are over. Node
   * emits a pipelined request as soon as it is parsed, before the answer ahead of it has been
   * decided; the answer may still close the connection (a 413 found mid-body), and then the
   * request behind it must never have started.
   */
  admit(socket: Socket, item: T, run: (item: T) => void): void {
    const queue = this.waiting.get(socket);
    if (queue === undefined) {
      this.waiting.set(socket, []);
      return run(item);
    }
    queue.push(item);
  }

  /** The running exchange on `socket` is over: start the next one, unless the connection is closing. */
  release(socket: Socket, run: (item: T) => void): void {
    const queue = this.waiting.get(socket);
    if (queue === undefined) return;
    const next = queue.shift();
    if (next === undefined) return void this.waiting.delete(socket);
    if (this.has(socket)) return void (queue.length = 0);
    run(next);
  }

  mark(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    this.count++;
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.count--;
    });
  }

  has(socket: Socket): boolean {
    return this.count > 0 && this.sockets.has(socket);
  }
}
