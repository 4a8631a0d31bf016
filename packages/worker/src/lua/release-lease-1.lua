--[[
  Compare-and-delete: gives up the outbox consumer lease only if the caller still holds it.
  KEYS[1]  lease key (value: owner token)
  ARGV[1]  owner token
  Returns  1 released, 0 not the holder (left alone)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
