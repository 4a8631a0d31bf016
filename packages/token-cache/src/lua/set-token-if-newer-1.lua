--[[
  Caches a token unless a newer one, or an invalidation at the same or a newer version, is cached.
  KEYS[1]  token hash (fields: v = tokenVersion, d = payload, i = "1" for an invalidation marker)
  ARGV[1]  tokenVersion of the token to write (decimal integer)
  ARGV[2]  payload (opaque to this script)
  ARGV[3]  TTL in milliseconds
  Returns  1 written, 0 refused (a higher version is cached), -1 refused (invalidated at >= this version)
]]
local current = redis.call("HMGET", KEYS[1], "v", "i")
local version = tonumber(ARGV[1])
if current[1] then
  local currentVersion = tonumber(current[1])
  if current[2] == "1" then
    if version <= currentVersion then return -1 end
  elseif version < currentVersion then
    return 0
  end
end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "v", ARGV[1], "d", ARGV[2])
redis.call("PEXPIRE", KEYS[1], ARGV[3])
return 1
