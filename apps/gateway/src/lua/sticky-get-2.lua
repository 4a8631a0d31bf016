--[[
  Reads a session's binding and slides its TTL (the binding, and the group's two keys).

  KEYS[1]  the group's bindings: a hash, session key -> account id
  KEYS[2]  the group's expiries: a sorted set, session key scored by when its binding ends (epoch ms)
  ARGV[1]  the session key
  ARGV[2]  now, epoch ms
  ARGV[3]  the TTL, ms

  Returns the account id, or false when the session has no live binding (an ended one is removed).
]]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local endsAt = redis.call("ZSCORE", KEYS[2], ARGV[1])
if not endsAt then return false end
local accountId = redis.call("HGET", KEYS[1], ARGV[1])
if tonumber(endsAt) <= now or not accountId then
  redis.call("ZREM", KEYS[2], ARGV[1])
  redis.call("HDEL", KEYS[1], ARGV[1])
  return false
end
redis.call("ZADD", KEYS[2], now + ttl, ARGV[1])
redis.call("PEXPIRE", KEYS[1], ttl)
redis.call("PEXPIRE", KEYS[2], ttl)
return accountId
