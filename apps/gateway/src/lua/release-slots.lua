--[[
  Releases leases, each from its account's sorted set.

  KEYS[1..m]  the sorted sets (all share one hash tag)
  ARGV[1..m]  the lease id to remove from each

  Returns how many of the leases were still held (the others had expired).
]]
local released = 0
for i = 1, #KEYS do
  released = released + redis.call("ZREM", KEYS[i], ARGV[i])
end
return released
