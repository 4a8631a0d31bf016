--[[
  Reads one version of a bucket snapshot: its member ids in order, their records and last-used times.
  KEYS[1]  version list ('#' header, then ids)
  KEYS[2]  bucket accounts hash (id -> record JSON)
  KEYS[3]  bucket last-used hash (id -> epoch ms)
  Returns  {1, ids, records, lastUsed (nil where none)} when every member has a record;
           {2} when the version list is gone; {3} when a member's record is missing
]]
local chunk = 500
if redis.call('EXISTS', KEYS[1]) == 0 then return {2} end
local ids = redis.call('LRANGE', KEYS[1], 1, -1)
local records, used = {}, {}
for first = 1, #ids, chunk do
  local slice = {unpack(ids, first, math.min(first + chunk - 1, #ids))}
  local found = redis.call('HMGET', KEYS[2], unpack(slice))
  for i = 1, #slice do
    if not found[i] then return {3} end
    records[#records + 1] = found[i]
  end
  local times = redis.call('HMGET', KEYS[3], unpack(slice))
  for i = 1, #slice do used[#used + 1] = times[i] end
end
return {1, ids, records, used}
