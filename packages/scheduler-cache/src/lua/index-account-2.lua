--[[
  Records that a snapshot lists an account, and gives the account a global record if it has none
  (an existing one came from setAccount and is at least as new as the rebuild's).
  KEYS[1]  account hash (`record`, `lastUsed`)
  KEYS[2]  account buckets set
  ARGV[1]  bucket string
  ARGV[2]  record JSON
  Returns  1
]]
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSETNX', KEYS[1], 'record', ARGV[2])
return 1
