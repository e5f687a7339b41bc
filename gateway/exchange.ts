import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledRoute, Snapshot } from './compile.js';
import type { Context } from './context.js';

/** What the pipeline needs to cut an upstream request whose client went away. */
export interface UpstreamCall {
  cancel(): void;
}

/**
 * One request's whole state: the request and response, the plugin context, the route and the
 * snapshot it started on. The pipeline passes this one object, not four arguments, and keeps no
 * state on `req` or on a shared emitter.
 */
export class Exchange {
  /** The response's 'close' has been seen: the exchange is over. */
  closed = false;
  /** The forwarder's request while one is in flight. */
  upstream: UpstreamCall | undefined = undefined;
  /** Deadline bookkeeping of request-deadline.ts: in its list of exchanges awaiting a response. */
  pending = false;
  pendingPrev: Exchange | undefined = undefined;
  pendingNext: Exchange | undefined = undefined;
  /** `performance.now()` by which the response must have started (`limits.requestTimeoutMs`). */
  deadlineAt = Infinity;
  /** The socket's `bytesRead` at the last check, and since when it has not moved. */
  bodyBytesSeen = -1;
  bodyIdleSince = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly ctx: Context,
    readonly route: CompiledRoute,
    readonly snap: Snapshot,
  ) {}
}
