import type { AdminRouteSpec } from '../admin/server.js';

/** The declaration of `GET /admin/alerts` (gateway/alerts/admin-alerts.ts). */
type Schema = Record<string, unknown>;

const TIME = { type: 'string', format: 'date-time' };
const channel: Schema = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['operational', 'slack', 'webhook'] }, url: { type: 'string', description: 'webhook channels only (a Slack URL carries its token and is never shown).' } },
};
const subject: Schema = {
  type: 'object',
  required: ['subject', 'state', 'since', 'value', 'lastFiredAt'],
  properties: {
    subject: { type: 'string', description: 'The endpoint, route or tenant.' },
    state: { enum: ['ok', 'firing'] },
    since: TIME,
    value: { type: 'number', description: 'The value at the latest transition.' },
    lastFiredAt: { anyOf: [TIME, { type: 'null' }], description: 'The cooldown counts from it.' },
  },
};
const rule: Schema = {
  type: 'object',
  required: ['name', 'metric', 'subjectKey', 'subject', 'over', 'above', 'below', 'cooldown', 'channels', 'firing', 'subjects'],
  properties: {
    name: { type: 'string' },
    metric: { enum: ['delivery_failure_ratio', 'delivery_lag_seconds', 'upstream_5xx_ratio', 'signature_failures'] },
    subjectKey: { enum: ['endpoint', 'route', 'tenant'] },
    subject: { type: 'string', description: 'An id, or * for each one separately.' },
    over: { type: ['string', 'null'], description: 'The window (null for delivery_lag_seconds).' },
    above: { type: ['number', 'null'] },
    below: { type: ['number', 'null'] },
    cooldown: { type: 'string' },
    channels: { type: 'array', items: channel },
    firing: { type: 'integer', minimum: 0, description: 'Subjects firing now.' },
    subjects: { type: 'array', items: subject, description: 'Every subject with a state (firing, or resolved earlier).' },
  },
};
const transition: Schema = {
  type: 'object',
  required: ['alert', 'subject', 'to', 'at', 'value'],
  properties: { alert: { type: 'string' }, subject: { type: 'string' }, to: { enum: ['firing', 'resolved'] }, at: TIME, value: { type: 'number' } },
};

export const alertSpecs = {
  list: {
    summary: 'Alert rules, their state per subject and the latest transitions',
    description: 'The rules of gateway.yaml `alerts`, each with the state of every subject it has seen (shared by every instance on one Redis), and the latest transitions, newest first.',
    responses: {
      200: {
        description: 'The alerts',
        schema: { type: 'object', required: ['evaluateEvery', 'rules', 'transitions'], properties: { evaluateEvery: { type: 'string' }, rules: { type: 'array', items: rule }, transitions: { type: 'array', items: transition } } },
      },
    },
  },
} satisfies Record<string, AdminRouteSpec>;
