import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import { Errors, errorBodyOf, type GatewayError } from './errors.js';

/**
 * The coded error for a request Node's HTTP parser refused before any handler ran. Node's own
 * answers (400, 408, 431) carry an empty body; ours carry the usual JSON error.
 */
export function clientErrorOf(err: NodeJS.ErrnoException): GatewayError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return Errors.HEADERS_TOO_LARGE();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      // Node raises the same error for both of its deadlines.
      return Errors.REQUEST_TIMEOUT('the request did not arrive in time (limits.headersTimeoutMs / limits.requestTimeoutMs)');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return Errors.BAD_REQUEST('chunk extensions are too large');
    default:
      // Parser codes (HPE_INVALID_METHOD, HPE_UNEXPECTED_CONTENT_LENGTH, ...) name the framing error.
      return Errors.BAD_REQUEST(err.code?.startsWith('HPE_') ? `malformed request (${err.code})` : 'malformed request');
  }
}

/**
 * Answers parser-level rejections with a JSON error and a stable code, then closes the
 * connection. Nothing is written when the socket is no longer writable or a response on it has
 * already started (bytes mid-response would corrupt what the client reads); the socket is
 * closed either way. Works for node http and https servers, and HTTP/2 servers with
 * `allowHTTP1` (their HTTP/1 connections); HTTP/2 sessions report framing errors themselves.
 */
export function answerClientErrors(server: NetServer, logger: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A reset or a socket that is already gone: no one to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight?.headersSent) return void socket.destroy();
    // Bytes after a request that asked for `Connection: close`: ignore them (stop reading) and
    // let the answer in flight go out; Node closes the connection after it.
    if (err.code === 'HPE_CLOSED_CONNECTION' && inFlight) return void socket.pause();
    const ge = clientErrorOf(err);
    logger.info({ code: ge.code, status: ge.status, cause: err.code, remoteAddress: socket.remoteAddress }, 'request refused by the HTTP parser');
    const body = JSON.stringify(errorBodyOf(ge));
    const head = `HTTP/1.1 ${ge.status} ${STATUS_CODES[ge.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    // end() flushes the answer; destroy once it is out, so a client that never reads nor closes
    // cannot keep a half-closed socket.
    socket.end(head + body, () => socket.destroy());
  });
}
