--[[
  Takes a bucket's rebuild lock. Safe to re-send: a call whose first delivery already took the lock (its
  reply lost to a reconnect) answers "acquired" again instead of making the owner wait for itself.
  KEYS[1]  lock key
  ARGV[1]  owner token
  ARGV[2]  ttl, ms
  Returns  1 when the lock is held by ARGV[1] after the call, 0 when another owner holds it
]]
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return 1 end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
