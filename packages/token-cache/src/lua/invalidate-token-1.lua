--[[
  Replaces the cached token with an invalidation marker at the given version, unless the key holds a
  token or a marker with a higher version (a late 401 on an older token keeps the newer one).
  KEYS[1]  token hash (fields: v = tokenVersion, d = payload, i = "1" for an invalidation marker)
  ARGV[1]  tokenVersion known to be bad (decimal integer)
  ARGV[2]  marker TTL in milliseconds
  Returns  1 when the marker was written, 0 when a newer version was kept
]]
local current = redis.call("HGET", KEYS[1], "v")
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "v", ARGV[1], "i", "1")
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return 1
