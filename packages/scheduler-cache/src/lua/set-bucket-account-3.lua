--[[
  Replaces a bucket's copy of one account record. Always stamps the id with a new `sequence` so a rebuild
  allocated before this call keeps this record instead of its own; bumps `changes` only when the bucket
  holds a record for the id (a stale index entry changes nothing visible).
  KEYS[1]  bucket meta hash (`sequence`, `changes`)
  KEYS[2]  bucket accounts hash
  KEYS[3]  bucket changed hash
  ARGV[1]  account id
  ARGV[2]  record JSON
  Returns  1 when the bucket's record was replaced, 0 otherwise
]]
local sequence = redis.call('HINCRBY', KEYS[1], 'sequence', 1)
redis.call('HSET', KEYS[3], ARGV[1], sequence)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'changes', 1)
return 1
