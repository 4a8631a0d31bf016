--[[
  Moves an account's global last-used time forward (never back) and names the buckets that list it.
  KEYS[1]  account hash (`record`, `lastUsed`)
  KEYS[2]  account buckets set
  ARGV[1]  epoch ms
  Returns  the bucket strings listed in KEYS[2]
]]
if redis.call('HEXISTS', KEYS[1], 'record') == 1 then
  local current = tonumber(redis.call('HGET', KEYS[1], 'lastUsed') or '-1')
  if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'lastUsed', ARGV[1]) end
end
return redis.call('SMEMBERS', KEYS[2])
