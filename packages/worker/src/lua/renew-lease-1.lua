--[[
  Compare-and-pexpire: resets the outbox consumer lease's TTL only if the caller still holds it.
  KEYS[1]  lease key (value: owner token)
  ARGV[1]  owner token
  ARGV[2]  TTL in milliseconds
  Returns  1 renewed, 0 not the holder (the lease expired or another replica holds it)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
