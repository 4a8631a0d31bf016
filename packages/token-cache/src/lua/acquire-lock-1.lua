--[[
  Takes the refresh lock if nobody holds it. Safe to re-send (ioredis re-sends a command after a
  reconnect): when the key already holds the caller's own owner token, the lock is ours, its TTL is reset
  and the answer is "acquired", so an owner never waits for itself.
  KEYS[1]  lock key (value: owner token)
  ARGV[1]  owner token
  ARGV[2]  TTL in milliseconds
  Returns  1 acquired (or already ours), 0 held by another owner
]]
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
