--[[
  Activates a staged version with a compare-and-set: only if it is newer than the active one.
  Records a setAccount/deleteAccount touched after the version was allocated are kept (they are newer than
  the rebuild's), unless this version's record has a higher stateVersion; the previous version's list expires after the grace period instead of being deleted, and
  records of accounts it listed but the new version drops are collected only after the grace period.
  KEYS[1]  bucket meta hash (`active`, `sequence`)
  KEYS[2]  this version's list ('#' header, then ids)
  KEYS[3]  this version's staged records hash
  KEYS[4]  bucket accounts hash (id -> record JSON)
  KEYS[5]  bucket changed hash (id -> `sequence` of the last setAccount/deleteAccount)
  KEYS[6]  bucket orphans sorted set (id scored by the epoch ms its record may be collected)
  KEYS[7]  bucket last-used hash
  KEYS[8]  the list of the version the caller expects to replace (any same-slot key when ARGV[2] is 0)
  ARGV[1]  this version
  ARGV[2]  the active version the caller expects to replace (0: none)
  ARGV[3]  meta `sequence` read when this version was allocated
  ARGV[4]  grace, ms
  Returns  {code, active version after the call}:
           1 activated (also when this version is already the active one: a re-sent call changes nothing);
           2 superseded (a newer version is active; this version's keys are deleted);
           3 the active version is not ARGV[2] (call again with KEYS[8] for the returned one);
           4 this version's staged keys expired (deleted; nothing changed)
]]
local version = tonumber(ARGV[1])
local expected = tonumber(ARGV[2])
local sequence_at_start = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local chunk = 500

local function state_version(record)
  local ok, decoded = pcall(cjson.decode, record)
  if ok and type(decoded) == 'table' and type(decoded.stateVersion) == 'number' then return decoded.stateVersion end
  return nil
end

local active = tonumber(redis.call('HGET', KEYS[1], 'active') or '0')
if version == active then
  -- Versions are allocated once each, so only this writer activated it: this is a re-sent call.
  return {1, active}
end
if version < active then
  redis.call('DEL', KEYS[2], KEYS[3])
  return {2, active}
end
if active ~= expected then
  return {3, active}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[3])
  return {4, active}
end

local ids = redis.call('LRANGE', KEYS[2], 1, -1)
for first = 1, #ids, chunk do
  local slice = {unpack(ids, first, math.min(first + chunk - 1, #ids))}
  local records = redis.call('HMGET', KEYS[3], unpack(slice))
  local changed = redis.call('HMGET', KEYS[5], unpack(slice))
  local fields = {}
  local held = nil
  for i = 1, #slice do
    local changed_at = changed[i] and tonumber(changed[i]) or 0
    local take = records[i] and changed_at <= sequence_at_start
    if records[i] and not take then
      -- A setAccount touched the id after allocation: keep its record unless ours has a higher stateVersion
      -- (a deleteAccount leaves no record to compare, and the id stays missing until a rebuild).
      held = held or redis.call('HMGET', KEYS[4], unpack(slice))
      local current = held[i] and state_version(held[i]) or nil
      local staged = state_version(records[i])
      take = current ~= nil and staged ~= nil and staged > current
    end
    if take then
      fields[#fields + 1] = slice[i]
      fields[#fields + 1] = records[i]
    end
  end
  if #fields > 0 then redis.call('HSET', KEYS[4], unpack(fields)) end
  redis.call('ZREM', KEYS[6], unpack(slice))
end
redis.call('DEL', KEYS[3])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], 'active', ARGV[1])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if expected > 0 then
  local kept = {}
  for i = 1, #ids do kept[ids[i]] = true end
  local previous = redis.call('LRANGE', KEYS[8], 1, -1)
  local dropped = {}
  for i = 1, #previous do
    if not kept[previous[i]] then
      dropped[#dropped + 1] = now + grace
      dropped[#dropped + 1] = previous[i]
    end
  end
  for first = 1, #dropped, 2 * chunk do
    redis.call('ZADD', KEYS[6], unpack(dropped, first, math.min(first + 2 * chunk - 1, #dropped)))
  end
  if grace > 0 then
    redis.call('PEXPIRE', KEYS[8], grace)
  else
    redis.call('DEL', KEYS[8])
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)
for first = 1, #expired, chunk do
  local slice = {unpack(expired, first, math.min(first + chunk - 1, #expired))}
  redis.call('HDEL', KEYS[4], unpack(slice))
  redis.call('HDEL', KEYS[5], unpack(slice))
  redis.call('HDEL', KEYS[7], unpack(slice))
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now) end
return {1, version}
