import type { BatchScript } from "../redis/Keyspace.js";
import { script } from "../redis/scripts.js";

// Beside its own fields a session hash holds metadata under a `$` no session key may use:
// `$touched` (when its TTL was last set, ms; reads renew the TTL only once that is `touchAfter`
// old) and, for sessions bound to a user by login(), `$uid` (the user) and `$created` (when the
// user logged in) — and `$pack`, which holds the session fields whose JSON is longer than 64 bytes
// (Redis' default `hash-max-listpack-value`), except `cookie`, as `field\nvalue\n…` (JSON never
// holds a raw newline; a field name with one stays a field of its own). A hash with one value
// over 64 bytes is a hashtable whatever else it holds, and each hashtable entry costs about 50
// bytes of its own: a large session is then a few entries instead of one per key.
// The per-user index `<prefix>user:<uid>` is a set of session ids whose TTL is kept at least as
// long as its sessions'. Its key is not among a script's KEYS: the scripts build it from the
// index prefix given in ARGV (see SessionKeys.indexArgFor) and the `$uid` they read. On a single
// master any key may be touched so. On a Cluster a script may touch only keys of the slot of its
// KEYS: there the prefix is `<prefix>{xy}user:`, where `{xy}` is the user's hash tag that the ids
// login() issues start with, so a session and its index share a slot; "" (a Cluster session
// login() did not issue: no user, no index) turns index upkeep off.

/**
 * Reads a session and refreshes its TTL (and its user index's) in one round trip. Used when
 * `touchAfter` is 0, and for keys that are not hashes (connect-redis values, corrupt data); other
 * reads are a plain HGETALL, followed by RENEW when the TTL is due.
 * KEYS[1] session key. ARGV[1] TTL in ms: > 0 fixed, 0 = the stored cookie's originalMaxAge
 * (else ARGV[2]), -1 = read without refreshing. ARGV[3] user index prefix, "" for none.
 * Returns nil (no session), {"hash", {field, value, …}}, {"string", json} (a connect-redis value)
 * or {"other", type}.
 */
const READ = `
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
local fields = redis.pcall('HGETALL', key)
if fields['err'] then
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'string' then return {'other', kind} end
  local value = redis.call('GET', key)
  if ttl == 0 then
    ttl = tonumber(ARGV[2])
    local ok, decoded = pcall(cjson.decode, value)
    if ok and type(decoded) == 'table' and type(decoded['cookie']) == 'table' then
      local age = decoded['cookie']['originalMaxAge']
      if type(age) == 'number' and age >= 1 then ttl = math.floor(age) end
    end
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return {'string', value}
end
if #fields == 0 then return false end
if ttl < 0 then return {'hash', fields} end
local uid = false
if ttl == 0 then ttl = tonumber(ARGV[2]) end
for i = 1, #fields, 2 do
  local field = fields[i]
  if field == 'cookie' and tonumber(ARGV[1]) == 0 then
    local age = tonumber(string.match(fields[i + 1], '"originalMaxAge":(%d+)'))
    if age and age >= 1 then ttl = age end
  elseif field == '$uid' then
    uid = fields[i + 1]
  end
end
redis.call('PEXPIRE', key, ttl)
if uid and ARGV[3] ~= '' then
  local index = ARGV[3] .. uid
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
end
return {'hash', fields}
`;

/**
 * Renews a session's TTL, records when (`$touched`) and keeps its user index at least as long.
 * KEYS[1] session key. ARGV[1] TTL ms. ARGV[2] now, ms. ARGV[3] user index prefix ("" none).
 * Returns 1, or 0 when the session is gone (it is not brought back).
 */
const RENEW = `
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
if redis.call('PEXPIRE', key, ttl) == 0 then return 0 end
redis.call('HSET', key, '$touched', ARGV[2])
if ARGV[3] ~= '' then
  local uid = redis.call('HGET', key, '$uid')
  if uid then
    local index = ARGV[3] .. uid
    if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
  end
end
return 1
`;

/**
 * Writes sessions' changed fields and their TTLs: one call writes a whole batch (DurableWriter),
 * each write atomically. KEYS: the session keys. ARGV: for each key in turn, the number of its
 * arguments, then the arguments:
 * 1 mode: "replace" writes the whole session; "update" applies a delta and "convert" replaces a
 * connect-redis value, both only if the key still exists, so a session destroyed meanwhile is not
 * brought back. 2 TTL ms, or "" in "update" mode to leave the TTL (renewed less than `touchAfter`
 * ago) alone. 3 user index prefix ("" none). 4 session id. 5 user id to bind ("" keeps the
 * binding it has). 6 now, ms (for `$created`). 7 deadline, ms since the epoch on this server's
 * clock (ServerClock converts the app's): the request stops waiting for the write then (and
 * answers 503), so a write that reaches Redis later (resent after a reconnection, or held in a
 * frozen master's socket) is dropped rather than overwriting what later, acknowledged requests
 * wrote.
 * 8 n, the number of field/value pairs to set. 9 m, the number of fields to check. Then the n
 * pairs (the caller includes `$touched`); then m field/value pairs, each the value the field
 * must hold for the write to apply ("": the field must not exist), or else the value this write
 * gives it (a try of the same write landed before); then the fields to delete.
 * A request sends fields to check when it read the session from a master no Sentinel majority
 * named (see SessionCommands): that read may be older than what the majority's master holds, and
 * its delta must not be put over newer values.
 * Returns, per key, 1 if written, 0 if the session was gone, -1 if it came after its deadline,
 * -2 if a checked field held neither what the request read nor what the write gives it.
 */
const WRITE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- The fields in a session's $pack: their names in order, and name -> value.
local function unpacked(key)
  local names, values = {}, {}
  local packed = redis.pcall('HGET', key, '$pack')
  if type(packed) ~= 'string' then return names, values end
  local at = 1
  while at <= #packed do
    local name_end = string.find(packed, '\\n', at, true)
    local value_end = name_end and string.find(packed, '\\n', name_end + 1, true)
    if not value_end then break end
    local name = string.sub(packed, at, name_end - 1)
    names[#names + 1] = name
    values[name] = string.sub(packed, name_end + 1, value_end - 1)
    at = value_end + 1
  end
  return names, values
end

-- The write whose arguments are ARGV[base + 1] .. ARGV[last].
local function write(key, base, last)
  local mode = ARGV[base + 1]
  local ttl = ARGV[base + 2]
  local prefix = ARGV[base + 3]
  local uid = ARGV[base + 5]
  local stamp = ARGV[base + 6]
  if now > tonumber(ARGV[base + 7]) then return -1 end
  local exists = redis.call('EXISTS', key) == 1
  if mode ~= 'replace' and not exists then return 0 end
  local pairsEnd = base + 9 + 2 * tonumber(ARGV[base + 8])
  local checksEnd = pairsEnd + 2 * tonumber(ARGV[base + 9])
  local names, packed = unpacked(key)
  if checksEnd > pairsEnd then
    -- What this write leaves in each field: an earlier try of it that landed (and was sent again,
    -- unacknowledged) left the checked fields so.
    local target = {}
    for i = base + 10, pairsEnd, 2 do target[ARGV[i]] = ARGV[i + 1] end
    for i = checksEnd + 1, last do target[ARGV[i]] = '' end
    for i = pairsEnd + 1, checksEnd, 2 do
      local held = redis.call('HGET', key, ARGV[i]) or packed[ARGV[i]] or ''
      if held ~= ARGV[i + 1] and held ~= target[ARGV[i]] then return -2 end
    end
  end
  local repack = false
  if mode ~= 'update' then
    local meta = {}
    if mode == 'replace' and exists and redis.call('TYPE', key)['ok'] == 'hash' then
      meta = redis.call('HMGET', key, '$uid', '$created')
    end
    redis.call('DEL', key)
    if meta[1] then redis.call('HSET', key, '$uid', meta[1], '$created', meta[2] or stamp) end
    names, packed = {}, {}
  end
  if uid ~= '' then
    redis.call('HSET', key, '$uid', uid)
    redis.call('HSETNX', key, '$created', stamp)
  end
  local plain, unset = {}, {}
  for i = base + 10, pairsEnd, 2 do
    local field, value = ARGV[i], ARGV[i + 1]
    if #value > 64 and field ~= 'cookie' and string.sub(field, 1, 1) ~= '$'
        and not string.find(field, '\\n', 1, true) and not string.find(value, '\\n', 1, true) then
      if packed[field] == nil then names[#names + 1] = field end
      packed[field] = value
      unset[#unset + 1] = field
      repack = true
    else
      plain[#plain + 1] = field
      plain[#plain + 1] = value
      if packed[field] ~= nil then packed[field] = nil; repack = true end
    end
  end
  for i = checksEnd + 1, last do
    unset[#unset + 1] = ARGV[i]
    if packed[ARGV[i]] ~= nil then packed[ARGV[i]] = nil; repack = true end
  end
  -- in chunks: a Lua call takes at most ~8000 arguments
  for i = 1, #plain, 2000 do
    redis.call('HSET', key, unpack(plain, i, math.min(i + 1999, #plain)))
  end
  for i = 1, #unset, 2000 do
    redis.call('HDEL', key, unpack(unset, i, math.min(i + 1999, #unset)))
  end
  if repack then
    local parts, seen = {}, {}
    for _, name in ipairs(names) do
      local value = packed[name]
      if value ~= nil and not seen[name] then
        seen[name] = true
        parts[#parts + 1] = name .. '\\n' .. value .. '\\n'
      end
    end
    if #parts == 0 then redis.call('HDEL', key, '$pack')
    else redis.call('HSET', key, '$pack', table.concat(parts)) end
  end
  if ttl == '' then return 1 end
  redis.call('PEXPIRE', key, ttl)
  if prefix ~= '' then
    if uid == '' then uid = redis.call('HGET', key, '$uid') or '' end
    if uid ~= '' then
      local index = prefix .. uid
      redis.call('SADD', index, ARGV[base + 4])
      if redis.call('PTTL', index) < tonumber(ttl) then redis.call('PEXPIRE', index, ttl) end
    end
  end
  return 1
end

local results = {}
local base = 0
for k = 1, #KEYS do
  local count = tonumber(ARGV[base + 1])
  results[k] = write(KEYS[k], base + 1, base + 1 + count)
  base = base + 1 + count
end
return results
`;

/**
 * Deletes a session and takes it out of its user's index.
 * KEYS[1] session key. ARGV[1] user index prefix ("" none). ARGV[2] session id.
 */
const DESTROY = `
local uid = false
if ARGV[1] ~= '' and redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  uid = redis.call('HGET', KEYS[1], '$uid')
end
redis.call('DEL', KEYS[1])
if uid then redis.call('SREM', ARGV[1] .. uid, ARGV[2]) end
return 1
`;

/**
 * Deletes every session of a user and the index itself, atomically: a login completing meanwhile
 * lands either before (and is deleted) or after (and stays).
 * KEYS[1] user index key. ARGV[1] session key prefix. Returns how many sessions it listed.
 */
const DESTROY_USER = `
local sids = redis.call('SMEMBERS', KEYS[1])
for _, sid in ipairs(sids) do redis.call('DEL', ARGV[1] .. sid) end
redis.call('DEL', KEYS[1])
return #sids
`;

export type ReadReply = null | ["hash", string[]] | ["string", string] | ["other", string];

export type WriteMode = "replace" | "update" | "convert";

/** Everything the write script takes for one key, in its order. */
export type WriteArgs = [
  mode: WriteMode,
  ttlMs: number | "",
  indexPrefix: string,
  sid: string,
  uid: string,
  now: number,
  deadline: number,
  pairCount: number,
  checkCount: number,
  ...pairsThenChecksThenDeletes: string[],
];

/** Where the deadline stands in WriteArgs: set on the server's clock just before sending. */
export const DEADLINE_ARG = 6;

/** The store's scripts, run with runScript (EVAL once per connection, then EVALSHA). */
export const SESSION_SCRIPTS = {
  read: script(READ),
  renew: script(RENEW),
  destroy: script(DESTROY),
  destroyUser: script(DESTROY_USER),
} as const;

/** The write script, for a batch of keys: DurableWriter sends it with the deadline it sets. */
export const WRITE_SCRIPT: BatchScript = { script: script(WRITE), deadlineArg: DEADLINE_ARG };
