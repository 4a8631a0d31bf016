--[[
  Allocates the next snapshot version of a bucket.
  KEYS[1]  bucket meta hash
  Returns  {version, active version (0: none), meta `sequence` now}
]]
local version = redis.call('HINCRBY', KEYS[1], 'next', 1)
local values = redis.call('HMGET', KEYS[1], 'active', 'sequence')
return {version, tonumber(values[1] or '0'), tonumber(values[2] or '0')}
