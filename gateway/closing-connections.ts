import type { Socket } from 'node:net';

/**
 * The connections the gateway has decided to close (it answered `Connection: close`, e.g. a 413
 * with the body unread, or the client asked for it). A request pipelined behind such an answer
 * is already parsed by the time the answer goes out; it must not run. Checking costs one
 * comparison while no connection is closing.
 */
export class ClosingConnections {
  private readonly sockets = new WeakSet<Socket>();
  private count = 0;

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
