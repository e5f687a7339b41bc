/** `GET /admin/alerts`: the rules of the running config, each subject's state, and the latest transitions. */
import type { AdminServer } from '../admin/server.js';
import { alertSpecs } from '../apidocs/alert-specs.js';
import type { Snapshot } from '../compile.js';
import type { AlertState, AlertStore } from './alert-store.js';
import { formatDuration } from './notify.js';
import type { AlertRule } from './rules.js';

const iso = (t: number) => new Date(t).toISOString();

function channelView(ch: AlertRule['channels'][number]): Record<string, string> {
  // A Slack incoming-webhook URL is its credential: shown as its kind only.
  return ch.kind === 'webhook' ? { type: 'webhook', url: ch.url } : { type: ch.kind };
}

/** Registers `GET /admin/alerts`. */
export function registerAlertAdmin(admin: AdminServer, deps: { snapshot: () => Snapshot; store: AlertStore }): void {
  admin.route('GET', '/admin/alerts', async () => {
    const { rules, evaluateEveryMs } = deps.snapshot().alerts;
    const [states, transitions] = await Promise.all([deps.store.states(), deps.store.transitions()]);
    const view = rules.map((r) => {
      const head = `${r.name}|`;
      const subjects = [...states]
        .filter(([k]) => k.startsWith(head))
        .map(([k, raw]) => {
          const s = JSON.parse(raw) as AlertState;
          return { subject: k.slice(head.length), state: s.state, since: iso(s.since), value: s.value, lastFiredAt: s.lastFiredAt === undefined ? null : iso(s.lastFiredAt) };
        })
        .sort((a, b) => a.subject.localeCompare(b.subject));
      return {
        name: r.name,
        metric: r.metric,
        subjectKey: r.subjectKey,
        subject: r.subject,
        over: r.overMs ? formatDuration(r.overMs) : null,
        above: r.above ?? null,
        below: r.below ?? null,
        cooldown: formatDuration(r.cooldownMs),
        channels: r.channels.map(channelView),
        firing: subjects.filter((s) => s.state === 'firing').length,
        subjects,
      };
    });
    const known = new Set(rules.map((r) => r.name));
    return { status: 200, body: { evaluateEvery: formatDuration(evaluateEveryMs), rules: view, transitions: transitions.filter((t) => known.has(t.alert)).map((t) => ({ ...t, at: iso(t.at) })) } };
  }, alertSpecs.list);
}
