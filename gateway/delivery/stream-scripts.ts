/**
 * The Redis side of the stream queue (stream-queue.ts): key names and the Lua scripts that make
 * each change atomic. Every key of one queue shares the hash tag `{hgq:<prefix>}`, so on Redis
 * Cluster they live in one slot and a script may touch any of them; the lane streams a script
 * computes from a lane name (the promoter's) are in that slot too.
 *
 * - `s:<tenant>` / `r:<tenant>`: a tenant's lane streams, first attempts and retries. One
 *   consumer group `g`; an entry is `m` (message id), `t` (target), `a` (attempts made).
 *   An entry stays in its stream (and in the group's pending list while a worker holds it) until
 *   it is settled: deleted when done, moved to `delayed` for a retry.
 * - `delayed`: zset of retries by due time; member `<m>\t<t>\t<a>\t<tenant>\t<w>`, where `w`
 *   is since when the delivery has been due (ms; kept across put-backs without an attempt, so the
 *   lag metric counts a throttled delivery's whole wait) and becomes the retry entry's field `w`.
 * - `ids`: set of `<m>\t<t>` queued anywhere (waiting, running, delayed): adding one again is a no-op.
 * - `lanes`: set of the tenants with lane streams.
 * - `bell`: a short stream written on every add and promotion (field `l` = tenant): idle workers
 *   block on it, so new work starts within a round trip on every instance.
 * - Ordered delivery (an entry with field `o`, its ordering key): `o:<target>\t<key>` is the
 *   key's list of `<m>\t<a>\t<tenant>`, head first; only the head has an entry in a lane (or in
 *   `delayed`), and settling it done puts the next one in its lane in the same script call.
 *   `ob:<target>`: zset of the target's keys whose head has failed an attempt, by since when;
 *   `ow`: how many ordered deliveries wait behind their key's head (counted as waiting).
 *   The `delayed` member of an ordered retry carries the key as a sixth field.
 */

export const GROUP = 'g';

export class QueueKeys {
  readonly base: string;
  constructor(prefix: string) {
    this.base = `${prefix}{hgq:${prefix}}:`;
  }
  first(tenant: string): string {
    return `${this.base}s:${tenant}`;
  }
  retry(tenant: string): string {
    return `${this.base}r:${tenant}`;
  }
  get delayed(): string {
    return `${this.base}delayed`;
  }
  get ids(): string {
    return `${this.base}ids`;
  }
  get lanes(): string {
    return `${this.base}lanes`;
  }
  get bell(): string {
    return `${this.base}bell`;
  }
  /** The list of an ordering key's deliveries to `target`, head first. */
  ordered(target: string, key: string): string {
    return `${this.base}o:${target}\t${key}`;
  }
  /** How many ordered deliveries wait behind their key's head. */
  get orderedWaiting(): string {
    return `${this.base}ow`;
  }
  /** The zset of `target`'s ordering keys whose head failed an attempt, by since when. */
  blocked(target: string): string {
    return `${this.base}ob:${target}`;
  }
}

// Creates a lane stream's group the first time the stream is written (0: it sees every entry).
const ENSURE_GROUP = `
local function ensure(key)
  if redis.call('EXISTS', key) == 0 then
    redis.call('XGROUP', 'CREATE', key, '${GROUP}', '0', 'MKSTREAM')
  end
end
`;

/**
 * ADD. KEYS: ids, lanes, bell, then one first-attempt stream per lane. ARGV: lane count, the
 * lanes' tenant names, the key base, then per job: lane index (1-based), m, t, a, o (the
 * ordering key, '' for none). An ordered job joins its key's list and enters its lane only when
 * the list was empty. Returns how many were queued.
 */
export const ADD = `${ENSURE_GROUP}
local nl = tonumber(ARGV[1])
for i = 1, nl do
  ensure(KEYS[3 + i])
  redis.call('SADD', KEYS[2], ARGV[1 + i])
end
local base = ARGV[nl + 2]
local added = 0
local i = nl + 3
while i <= #ARGV do
  local li, m, t, a, o = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('SADD', KEYS[1], m .. '\\t' .. t) == 1 then
    if o == '' then
      redis.call('XADD', KEYS[3 + li], '*', 'm', m, 't', t, 'a', a)
    elseif redis.call('RPUSH', base .. 'o:' .. t .. '\\t' .. o, m .. '\\t' .. a .. '\\t' .. ARGV[1 + li]) == 1 then
      redis.call('XADD', KEYS[3 + li], '*', 'm', m, 't', t, 'a', a, 'o', o)
    else
      redis.call('INCR', base .. 'ow')
    end
    added = added + 1
  end
  i = i + 5
end
if added > 0 then
  for j = 1, nl do redis.call('XADD', KEYS[3], 'MAXLEN', '~', '64', '*', 'l', ARGV[1 + j]) end
end
return added
`;

// An ordered key's head is done (or skipped): it leaves the key's list and the next one, if
// any, enters its tenant's lane. A head that is no longer `m` (skipped meanwhile) is left alone.
const ADVANCE = `
local function advance(base, t, o, m)
  local list = base .. 'o:' .. t .. '\\t' .. o
  local head = redis.call('LINDEX', list, 0)
  if not head or string.match(head, '^[^\\t]*') ~= m then return end
  redis.call('LPOP', list)
  redis.call('ZREM', base .. 'ob:' .. t, o)
  local nxt = redis.call('LINDEX', list, 0)
  if nxt then
    local nm, na, tenant = string.match(nxt, '^([^\\t]*)\\t([^\\t]*)\\t(.*)$')
    local lane = base .. 's:' .. tenant
    ensure(lane)
    redis.call('SADD', base .. 'lanes', tenant)
    redis.call('XADD', lane, '*', 'm', nm, 't', t, 'a', na, 'o', o)
    redis.call('DECR', base .. 'ow')
    redis.call('XADD', base .. 'bell', 'MAXLEN', '~', '64', '*', 'l', tenant)
  end
end
`;

/**
 * SETTLE: what workers finished, in one call per batch. KEYS: ids, delayed, then the streams
 * named. ARGV: per entry `op, stream index, entry id, ...`:
 * - `d, k, id, m, t`: done; the entry and its `ids` member go.
 * - `r, k, id, due, member`: retry; the entry goes, `member` waits in `delayed` until `due`.
 * - `b, k, id, m, t, a, w`: back; held but never started (a stop): queued again at the lane's end.
 * Ordered entries (the key `o` last): `D, k, id, m, t, o` done, and the key's next one enters
 * its lane; `R, k, id, due, member, t, o, failedAt` retry, the key stays blocked behind it
 * (`failedAt` '' when no attempt was made, else it marks the key blocked since then); `B, k, id,
 * m, t, a, w, o` back; `x, k, id`: no longer its key's head (skipped, or a copy): the entry goes,
 * nothing else. An entry no longer pending for the group (reclaimed and settled elsewhere) is left alone.
 */
export const SETTLE = `${ENSURE_GROUP}${ADVANCE}
local base = string.sub(KEYS[1], 1, -4)
local i = 1
local n = 0
while i <= #ARGV do
  local op, key, id = ARGV[i], KEYS[2 + tonumber(ARGV[i + 1])], ARGV[i + 2]
  local acked = redis.call('XACK', key, '${GROUP}', id)
  redis.call('XDEL', key, id)
  if op == 'd' or op == 'D' then
    if acked == 1 then
      redis.call('SREM', KEYS[1], ARGV[i + 3] .. '\\t' .. ARGV[i + 4])
      if op == 'D' then advance(base, ARGV[i + 4], ARGV[i + 5], ARGV[i + 3]) end
    end
    i = i + (op == 'd' and 5 or 6)
  elseif op == 'r' or op == 'R' then
    if acked == 1 then redis.call('ZADD', KEYS[2], ARGV[i + 3], ARGV[i + 4]) end
    if op == 'R' then
      local t, o, at = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
      local head = redis.call('LINDEX', base .. 'o:' .. t .. '\\t' .. o, 0)
      if acked == 1 and at ~= '' and head and string.match(head, '^[^\\t]*') == string.match(ARGV[i + 4], '^[^\\t]*') then
        redis.call('ZADD', base .. 'ob:' .. t, 'NX', at, o)
      end
      i = i + 8
    else
      i = i + 5
    end
  elseif op == 'b' or op == 'B' then
    if acked == 1 then
      if op == 'b' then redis.call('XADD', key, '*', 'm', ARGV[i + 3], 't', ARGV[i + 4], 'a', ARGV[i + 5], 'w', ARGV[i + 6])
      else redis.call('XADD', key, '*', 'm', ARGV[i + 3], 't', ARGV[i + 4], 'a', ARGV[i + 5], 'w', ARGV[i + 6], 'o', ARGV[i + 7]) end
    end
    i = i + (op == 'b' and 7 or 8)
  else
    i = i + 3
  end
  n = n + acked
end
return n
`;

/**
 * SKIP: ends an ordering key's head without delivering it (the admin skip route): it leaves the
 * key's list and `ids`, and the next one enters its lane. Its entry, wherever it is, is dropped
 * when a worker finds it is no longer the head. KEYS: ids. ARGV: target, key. Returns the head's
 * `<m>\t<a>\t<tenant>`, or false when the key has nothing queued.
 */
export const SKIP = `${ENSURE_GROUP}${ADVANCE}
local base = string.sub(KEYS[1], 1, -4)
local head = redis.call('LINDEX', base .. 'o:' .. ARGV[1] .. '\\t' .. ARGV[2], 0)
if not head then return false end
local m = string.match(head, '^[^\\t]*')
redis.call('SREM', KEYS[1], m .. '\\t' .. ARGV[1])
advance(base, ARGV[1], ARGV[2], m)
return head
`;

/**
 * PROMOTE: moves retries that are due from `delayed` to their tenants' retry streams.
 * KEYS: delayed, lanes, bell. ARGV: now, limit, key base. Returns {moved, next due time or -1}.
 */
export const PROMOTE = `${ENSURE_GROUP}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local rung = {}
for _, member in ipairs(due) do
  local m, t, a, tenant, w, o = string.match(member, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t?(.*)$')
  if m then
    local key = ARGV[3] .. 'r:' .. tenant
    ensure(key)
    redis.call('SADD', KEYS[2], tenant)
    if o == '' then redis.call('XADD', key, '*', 'm', m, 't', t, 'a', a, 'w', w)
    else redis.call('XADD', key, '*', 'm', m, 't', t, 'a', a, 'w', w, 'o', o) end
    rung[tenant] = true
  end
  redis.call('ZREM', KEYS[1], member)
end
for tenant in pairs(rung) do redis.call('XADD', KEYS[3], 'MAXLEN', '~', '64', '*', 'l', tenant) end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { #due, nxt[2] or '-1' }
`;

/**
 * GROUPS: after a read met a lane without its group (NOGROUP). KEYS: the lanes read. Gives each
 * stream that exists the group it lacks (data lost, say) and answers 1, or 0 for a stream that
 * does not exist: it is never made here, only by ADD and PROMOTE when they write to it, so idle
 * readers leave no empty streams behind.
 */
export const GROUPS = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.pcall('XGROUP', 'CREATE', key, '${GROUP}', '0')
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`;
