--[[
  Replaces an account's global record and names the buckets whose copies must follow.
  KEYS[1]  account hash (`record`, `lastUsed`)
  KEYS[2]  account buckets set
  ARGV[1]  record JSON
  Returns  the bucket strings listed in KEYS[2]
]]
redis.call('HSET', KEYS[1], 'record', ARGV[1])
return redis.call('SMEMBERS', KEYS[2])
