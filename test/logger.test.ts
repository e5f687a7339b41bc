import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { accessLevel, logFormat } from '../gateway/logger.js';

test('logFormat: ISO time, level labels, msg; the same for every logger made with it', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const logger = pino({ ...logFormat(), base: { service: 'hookgate' } }, sink);
  logger.info({ a: 1 }, 'hello');
  logger.error('bad');
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.level, 'info');
  assert.equal(lines[1]!.level, 'error');
  assert.equal(lines[0]!.msg, 'hello');
  assert.equal(lines[0]!.service, 'hookgate');
  assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('accessLevel: 5xx error, 4xx warn, anything else the configured level', () => {
  assert.equal(accessLevel(500), 'error');
  assert.equal(accessLevel(503), 'error');
  assert.equal(accessLevel(499), 'warn');
  assert.equal(accessLevel(404), 'warn');
  assert.equal(accessLevel(200), 'info');
  assert.equal(accessLevel(302, 'debug'), 'debug');
  assert.equal(accessLevel(0), 'info');
});
