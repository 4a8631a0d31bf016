--[[
  Compare-and-delete: releases a bucket lock only for its owner.
  KEYS[1]  lock key
  ARGV[1]  owner token
  Returns  1 when released, 0 when the lock is held by another token or not held
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
