--[[
  Binds a session to an account for the TTL, keeping the group to at most ARGV[5] bindings: ended bindings
  go first (at most 100 a call), then the least recently used.

  KEYS[1]  the group's bindings: a hash, session key -> account id
  KEYS[2]  the group's expiries: a sorted set, session key scored by when its binding ends (epoch ms)
  ARGV[1]  the session key
  ARGV[2]  the account id
  ARGV[3]  now, epoch ms
  ARGV[4]  the TTL, ms
  ARGV[5]  the most bindings the group keeps

  Returns how many bindings were removed to stay within the cap (ended ones not counted).
]]
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local CHUNK = 1000

local function forget(members)
  if #members > 0 then
    redis.call("ZREM", KEYS[2], unpack(members))
    redis.call("HDEL", KEYS[1], unpack(members))
  end
end

redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("ZADD", KEYS[2], now + ttl, ARGV[1])
forget(redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, 100))

local removed = 0
local over = redis.call("ZCARD", KEYS[2]) - max
while over > 0 do
  local popped = redis.call("ZPOPMIN", KEYS[2], math.min(over, CHUNK))
  local members = {}
  for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
  redis.call("HDEL", KEYS[1], unpack(members))
  removed = removed + #members
  over = over - #members
end

-- The two keys can part (an eviction under maxmemory takes one of them): a hash left holding more than the
-- cap starts again rather than grow without a bound.
if redis.call("HLEN", KEYS[1]) > max then
  redis.call("DEL", KEYS[1], KEYS[2])
  redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
  redis.call("ZADD", KEYS[2], now + ttl, ARGV[1])
end
redis.call("PEXPIRE", KEYS[1], ttl)
redis.call("PEXPIRE", KEYS[2], ttl)
return removed
