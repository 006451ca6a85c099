import type { Cluster, Redis } from "ioredis";

/**
 * Reads a session and refreshes its TTL in one round trip.
 * KEYS[1] session key. ARGV[1] TTL in ms: > 0 fixed, 0 = the stored cookie's originalMaxAge
 * (else ARGV[2]), -1 = read without refreshing.
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
if ttl == 0 then
  ttl = tonumber(ARGV[2])
  for i = 1, #fields, 2 do
    if fields[i] == 'cookie' then
      local age = tonumber(string.match(fields[i + 1], '"originalMaxAge":(%d+)'))
      if age and age >= 1 then ttl = age end
      break
    end
  end
end
if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
return {'hash', fields}
`;

/**
 * Writes a session's changed fields and its TTL atomically.
 * KEYS[1] session key. ARGV[1] mode: "replace" writes the whole session; "update" applies a delta
 * and "convert" replaces a connect-redis value, both only if the key still exists, so a session
 * destroyed meanwhile is not brought back. ARGV[2] TTL ms. ARGV[3] n, then n field/value pairs to
 * set, then the fields to delete. Returns 1 if written, 0 if the session was gone.
 */
const WRITE = `
local key = KEYS[1]
local mode = ARGV[1]
if mode ~= 'replace' and redis.call('EXISTS', key) == 0 then return 0 end
if mode ~= 'update' then redis.call('DEL', key) end
local last = 3 + 2 * tonumber(ARGV[3])
-- unpack in chunks: a Lua call takes at most ~8000 arguments
for i = 4, last, 2000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, last)))
end
for i = last + 1, #ARGV, 2000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
redis.call('PEXPIRE', key, ARGV[2])
return 1
`;

export type ReadReply = null | ["hash", string[]] | ["string", string] | ["other", string];

export type WriteMode = "replace" | "update" | "convert";

/** The store's scripts as commands on the client (EVALSHA, falling back to EVAL on NOSCRIPT). */
export interface SessionScripts {
  rhsReadSession(key: string, ttlMs: number, defaultTtlMs: number): Promise<ReadReply>;
  rhsWriteSession(
    key: string,
    mode: WriteMode,
    ttlMs: number,
    pairCount: number,
    ...fieldsThenDeletes: string[]
  ): Promise<0 | 1>;
}

/** Registers the scripts; ioredis keeps their SHA and reloads them on a new master. */
export function defineScripts(client: Redis | Cluster): SessionScripts {
  client.defineCommand("rhsReadSession", { numberOfKeys: 1, lua: READ });
  client.defineCommand("rhsWriteSession", { numberOfKeys: 1, lua: WRITE });
  return client as unknown as SessionScripts;
}
