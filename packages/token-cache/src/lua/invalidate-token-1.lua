--[[
  Replaces the cached token with an invalidation marker at max(given version, cached version).
  KEYS[1]  token hash (fields: v = tokenVersion, d = payload, i = "1" for an invalidation marker)
  ARGV[1]  tokenVersion known to be bad (decimal integer)
  ARGV[2]  marker TTL in milliseconds
  Returns  1
]]
local version = ARGV[1]
local current = redis.call("HGET", KEYS[1], "v")
if current and tonumber(current) > tonumber(version) then version = current end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "v", version, "i", "1")
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return 1
