/**
 * The Redis repository's batch scripts (repository.ts): the writes of one turn of the event loop
 * in one call. Each does, per item, what the single call did.
 */

/**
 * SAVE_MESSAGES. KEYS: the message index, then per message its hash and its tenant's index.
 * ARGV per message: JSON, ttl, createdAt, id, index trim-before and tenant-index trim-before
 * (-1: no trim this time), the field count, then the fields (body, each target's status).
 */
export const SAVE_MESSAGES = `
local a = 1
for i = 2, #KEYS, 2 do
  local m, t = KEYS[i], KEYS[i + 1]
  local ttl, at, id, trim, ttrim, nf = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], tonumber(ARGV[a + 6])
  redis.call('HSET', m, 'msg', ARGV[a])
  local f = a + 7
  while f < a + 7 + nf do
    local last = math.min(f + 999, a + 6 + nf)
    redis.call('HSET', m, unpack(ARGV, f, last))
    f = last + 1
  end
  redis.call('PEXPIRE', m, ttl)
  redis.call('ZADD', KEYS[1], at, id)
  redis.call('ZADD', t, at, id)
  redis.call('PEXPIRE', t, ttl)
  if trim ~= '-1' then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', trim) end
  if ttrim ~= '-1' then redis.call('ZREMRANGEBYSCORE', t, '-inf', ttrim) end
  a = a + 7 + nf
end
return 1
`;

/**
 * HSET_EXISTING_MANY: HSET on each hash that still exists (after its retention a message must
 * not come back as a hash without an expiry). KEYS: the hashes. ARGV per hash: the field count,
 * then the fields and values.
 */
export const HSET_EXISTING_MANY = `
local a = 1
for i = 1, #KEYS do
  local nf = tonumber(ARGV[a])
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], unpack(ARGV, a + 1, a + nf)) end
  a = a + 1 + nf
end
return 1
`;
