--[[
  Writes a bucket's copy of one account record. Always stamps the id with a new `sequence` so a rebuild
  allocated before this call keeps this record instead of its own. Writes the record even when the bucket
  holds none yet: the account may be a member of a version staged but not yet activated, whose activation
  keeps this (newer) record instead of its staged one. Such a record is put on the orphans set, so it is
  collected after the grace period unless an activation lists the account.
  KEYS[1]  bucket meta hash (`sequence`, `changes`)
  KEYS[2]  bucket accounts hash
  KEYS[3]  bucket changed hash
  KEYS[4]  bucket orphans sorted set
  ARGV[1]  account id
  ARGV[2]  record JSON
  ARGV[3]  grace, ms
  ARGV[4]  the record's stateVersion (-1: unversioned, always written)
  Returns  1 when an existing record was replaced, 0 when the bucket held none, 2 when refused (the held
           record's stateVersion is higher than ARGV[4]; nothing changes)
]]
local incoming = tonumber(ARGV[4])
if incoming >= 0 then
  local held = redis.call('HGET', KEYS[2], ARGV[1])
  if held then
    local ok, decoded = pcall(cjson.decode, held)
    if ok and type(decoded) == 'table' and type(decoded.stateVersion) == 'number' and decoded.stateVersion > incoming then
      return 2
    end
  end
end
local sequence = redis.call('HINCRBY', KEYS[1], 'sequence', 1)
redis.call('HSET', KEYS[3], ARGV[1], sequence)
local existed = redis.call('HEXISTS', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'changes', 1)
if existed == 1 then return 1 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[4], 'NX', now + tonumber(ARGV[3]), ARGV[1])
return 0
