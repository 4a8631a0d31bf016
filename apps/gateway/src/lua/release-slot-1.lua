--[[
  Releases one lease.

  KEYS[1]  the account's sorted set of leases
  ARGV[1]  lease id

  Returns 1 when the lease was held, 0 when it had already expired.
]]
return redis.call("ZREM", KEYS[1], ARGV[1])
