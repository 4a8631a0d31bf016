--[[
  Moves the outbox watermark forward; never backwards.
  KEYS[1]  watermark key
  ARGV[1]  new watermark (non-negative integer)
  Returns  the watermark after the call
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return current
