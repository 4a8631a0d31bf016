--[[
  Drops a session's binding.

  KEYS[1]  the group's bindings: a hash, session key -> account id
  KEYS[2]  the group's expiries: a sorted set, session key scored by when its binding ends (epoch ms)
  ARGV[1]  the session key

  Returns 1 when there was a binding, 0 otherwise.
]]
redis.call("ZREM", KEYS[2], ARGV[1])
return redis.call("HDEL", KEYS[1], ARGV[1])
