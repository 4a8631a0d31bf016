--[[
  Removes a bucket's copy of one account record, so snapshots listing it miss until rebuilt. Stamps the id
  with a new `sequence` so a rebuild allocated before this call does not bring the record back.
  KEYS[1]  bucket meta hash (`sequence`, `changes`)
  KEYS[2]  bucket accounts hash
  KEYS[3]  bucket changed hash
  ARGV[1]  account id
  Returns  1 when a record was removed, 0 otherwise
]]
local sequence = redis.call('HINCRBY', KEYS[1], 'sequence', 1)
redis.call('HSET', KEYS[3], ARGV[1], sequence)
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'changes', 1)
return 1
