--[[
  Compare-and-pexpire: resets the lock's TTL only if the caller still owns it.
  KEYS[1]  lock key (value: owner token)
  ARGV[1]  owner token
  ARGV[2]  TTL in milliseconds
  Returns  1 extended, 0 not the owner (lock expired or taken by someone else)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
