--[[
  Replaces an account's global record, unless the held record is newer, and names the buckets whose copies
  must follow.
  KEYS[1]  account hash (`record`, `lastUsed`)
  KEYS[2]  account buckets set
  ARGV[1]  record JSON
  ARGV[2]  the record's stateVersion (-1: unversioned, always written)
  Returns  the bucket strings listed in KEYS[2]; an empty list when refused (the held record's
           stateVersion is higher than ARGV[2])
]]
local incoming = tonumber(ARGV[2])
if incoming >= 0 then
  local held = redis.call('HGET', KEYS[1], 'record')
  if held then
    local ok, decoded = pcall(cjson.decode, held)
    if ok and type(decoded) == 'table' and type(decoded.stateVersion) == 'number' and decoded.stateVersion > incoming then
      return {}
    end
  end
end
redis.call('HSET', KEYS[1], 'record', ARGV[1])
return redis.call('SMEMBERS', KEYS[2])
