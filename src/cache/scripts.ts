import type { BatchScript } from "../redis/Keyspace.js";
import { script } from "../redis/scripts.js";

// A cached value is a string, `{"c":<created>,"e":<fresh until>[,"t":<tags>],"v":<JSON>}`: when
// the load or write that produced it began and until when it is fresh (ms, on the server's
// clock), its tags, and the value (`"s":<string>` instead of `"v"` for a value in the
// `serializer`'s form; the scripts are given either member whole). Beside it (see CacheKeys), in its slot: the fence `…:f`, a
// counter every invalidation and write-through bumps (kept FENCE_TTL past its last use); the
// lease `…:l`, the token of the one load in flight; the writers `…:w`, a sorted set of the
// write-throughs in flight, by the time they stop counting.
//
// No stale set: a load records the fence when it takes the lease, and its value is stored only
// if the fence still holds that and no write-through is in flight — anything that invalidated
// the key or wrote the database meanwhile bumped the fence (a write-through bumps it when it
// begins and again when it ends), and one still in flight may commit after the load read.

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/** The stored form of a value; `tags` is a JSON array or "". */
const ENTRY = `
local function entry(created, freshUntil, tags, value)
  local tagged = tags == '' and '' or (',"t":' .. tags)
  return '{"c":' .. created .. ',"e":' .. string.format('%d', freshUntil) .. tagged .. ',' .. value .. '}'
end
`;

/**
 * Takes the key's lease unless a fresh value is there. KEYS[1] the value's key. ARGV[1] lease
 * token, ARGV[2] lease ms, ARGV[3] fence TTL ms, ARGV[4] the oldest creation time a value may have
 * (ms; from its tags' invalidations, 0 for none), ARGV[5] "1" when what the key holds is not in
 * the cache's format (to be loaded again; a key of another type counts as empty).
 * Returns {"hit", stored}; {"lease", stored or "", fence, now}; or {"wait", stored or "", lease
 * PTTL}. `stored` beside a lease or a wait is an expired value (kept for `staleTtl`).
 */
const ACQUIRE = `${NOW}
local key = KEYS[1]
local stored = redis.pcall('GET', key)
if type(stored) == 'table' then stored = false end
if stored and ARGV[5] ~= '1' then
  local created, fresh = string.match(stored, '^{"c":(%d+),"e":(%d+)')
  if fresh and tonumber(fresh) > now and tonumber(created) >= tonumber(ARGV[4]) then
    return {'hit', stored}
  end
end
local lease = key .. ':l'
if redis.call('SET', lease, ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = key .. ':f'
  local version = redis.call('GET', fence)
  if version then redis.call('PEXPIRE', fence, ARGV[3]) end
  return {'lease', stored or '', version or '0', now}
end
return {'wait', stored or '', redis.call('PTTL', lease)}
`;

/**
 * Keeps a lease while its load runs. KEYS[1] the value's key. ARGV[1] token, ARGV[2] lease ms.
 * Returns 1, or 0 when the lease is no longer this load's.
 */
const RENEW = `
local lease = KEYS[1] .. ':l'
if redis.call('GET', lease) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', lease, ARGV[2])
return 1
`;

/**
 * Stores a load's value if nothing invalidated or wrote the key since the load began, and gives
 * the lease back. KEYS[1] the value's key. ARGV: 1 lease token, 2 the fence the load saw, 3 when
 * it began (server ms), 4 ms fresh, 5 ms the key lives (fresh + stale), 6 tags (JSON array or
 * ""), 7 the value's JSON ("" stores nothing: a failed load only gives the lease back), 8 fence
 * TTL ms, 9 channel, 10 the cache key (for the message).
 * Returns 1 stored, 0 refused as stale, -1 nothing to store. Publishes "f<key>" (stored) or
 * "r<key>" (not), which wakes the load's waiters.
 */
const FILL = `${NOW}${ENTRY}
local key = KEYS[1]
local result = -1
if ARGV[7] ~= '' then
  local writers = key .. ':w'
  redis.call('ZREMRANGEBYSCORE', writers, '-inf', now)
  local fence = redis.call('GET', key .. ':f') or '0'
  if fence == ARGV[2] and redis.call('ZCARD', writers) == 0
      and now - tonumber(ARGV[3]) < tonumber(ARGV[8]) then
    redis.call('SET', key, entry(ARGV[3], now + tonumber(ARGV[4]), ARGV[6], ARGV[7]), 'PX', ARGV[5])
    result = 1
  else
    result = 0
  end
end
local lease = key .. ':l'
if redis.call('GET', lease) == ARGV[1] then redis.call('DEL', lease) end
redis.call('PUBLISH', ARGV[9], (result == 1 and 'f' or 'r') .. ARGV[10])
return result
`;

/**
 * The cache's changes that must reach replicas (DurableWriter batches; KEYS the value's keys, or
 * a tag's). For each key, its arguments: 1 mode, 2 channel, 3 the cache key or tag (for the
 * message), 4 fence TTL ms (a tag: how long its time is kept), 5 deadline (server ms: a change
 * arriving later is dropped, -1), then by mode:
 * - "invalidate": bumps the fence, deletes the value; publishes "i<key>". Returns 1.
 * - "set": bumps the fence, stores 6 ms fresh, 7 ms lived, 8 tags, 9 JSON (created now);
 *   publishes "i<key>". Returns 1.
 * - "begin" (a write-through starts): 6 token, 7 ms it counts as in flight. Bumps the fence,
 *   deletes the value, records the writer; publishes "i<key>". Returns {fence, now}.
 * - "end": 6 token, 7 the fence "begin" returned, 8 its time, 9 ms fresh, 10 ms lived, 11 tags,
 *   12 JSON ("" when the write failed: store nothing). Stores the value only if the fence still
 *   holds what "begin" set and no other write-through is in flight; bumps the fence (a load that
 *   began while this write was in flight must not store what it read), deletes the value
 *   otherwise; publishes "i<key>". Returns 1 stored, 0 not.
 * - "tag": records now as the tag's invalidation time; publishes "t<tag>". Returns now.
 */
const CHANGE = `${NOW}${ENTRY}
local function bump(key, ttl)
  local fence = key .. ':f'
  local version = redis.call('INCR', fence)
  redis.call('PEXPIRE', fence, ttl)
  return version
end

local function change(key, base)
  local mode = ARGV[base + 1]
  local channel = ARGV[base + 2]
  local name = ARGV[base + 3]
  local ttl = ARGV[base + 4]
  if now > tonumber(ARGV[base + 5]) then return -1 end
  if mode == 'tag' then
    redis.call('SET', key, now, 'PX', ttl)
    redis.call('PUBLISH', channel, 't' .. name)
    return now
  end
  local result = 1
  if mode == 'invalidate' then
    bump(key, ttl)
    redis.call('DEL', key)
  elseif mode == 'set' then
    bump(key, ttl)
    local value = entry(now, now + tonumber(ARGV[base + 6]), ARGV[base + 8], ARGV[base + 9])
    redis.call('SET', key, value, 'PX', ARGV[base + 7])
  elseif mode == 'begin' then
    local writers = key .. ':w'
    redis.call('ZREMRANGEBYSCORE', writers, '-inf', now)
    local counted = now + tonumber(ARGV[base + 7])
    redis.call('ZADD', writers, counted, ARGV[base + 6])
    redis.call('PEXPIRE', writers, ARGV[base + 7])
    result = {bump(key, ttl), now}
    redis.call('DEL', key)
  elseif mode == 'end' then
    local writers = key .. ':w'
    redis.call('ZREM', writers, ARGV[base + 6])
    redis.call('ZREMRANGEBYSCORE', writers, '-inf', now)
    local fence = redis.call('GET', key .. ':f') or '0'
    local began = tonumber(ARGV[base + 8])
    local value = ARGV[base + 12]
    if value ~= '' and fence == ARGV[base + 7] and redis.call('ZCARD', writers) == 0
        and now - began < tonumber(ttl) then
      local stored = entry(ARGV[base + 8], now + tonumber(ARGV[base + 9]), ARGV[base + 11], value)
      redis.call('SET', key, stored, 'PX', ARGV[base + 10])
    else
      redis.call('DEL', key)
      result = 0
    end
    bump(key, ttl)
  end
  redis.call('PUBLISH', channel, 'i' .. name)
  return result
end

local results = {}
local base = 0
for k = 1, #KEYS do
  local count = tonumber(ARGV[base + 1])
  results[k] = change(KEYS[k], base + 1)
  base = base + 1 + count
end
return results
`;

/** Where the deadline stands in a change's arguments. */
export const CHANGE_DEADLINE_ARG = 4;

export const CACHE_SCRIPTS = {
  acquire: script(ACQUIRE),
  renew: script(RENEW),
  fill: script(FILL),
} as const;

/** The change script, for a batch of keys (DurableWriter sends it with the deadline it sets). */
export const CHANGE_SCRIPT: BatchScript = {
  script: script(CHANGE),
  deadlineArg: CHANGE_DEADLINE_ARG,
};

export type AcquireReply =
  ["hit", string] | ["lease", string, string, number] | ["wait", string, number];
