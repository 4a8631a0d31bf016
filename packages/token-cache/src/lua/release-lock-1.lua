--[[
  Compare-and-delete the refresh lock, then announce the finished refresh to every waiting process.
  The announcement goes out even when the lock was not ours any more: the cache may have changed.
  KEYS[1]  lock key (value: owner token)
  ARGV[1]  owner token
  ARGV[2]  pub/sub channel for announcements (a channel, not a key)
  ARGV[3]  announcement message (the cache key)
  Returns  1 released, 0 not the owner
]]
local released = 0
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  released = 1
end
redis.call("PUBLISH", ARGV[2], ARGV[3])
return released
