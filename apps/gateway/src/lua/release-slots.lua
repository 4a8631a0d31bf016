--[[
  Releases leases, each from its account's sorted set; an account a waiter wants has its id published.

  KEYS[1]        the wanted marks: a hash, account id -> until when a waiter wants it (epoch ms)
  KEYS[2..m+1]   the sorted sets (all share one hash tag)
  ARGV[1]        the channel releases publish on
  ARGV[2..m+1]   the lease id to remove from each
  ARGV[m+2..]    the account id of each

  Returns how many of the leases were still held (the others had expired).
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local m = #KEYS - 1
local released = 0
for i = 1, m do
  if redis.call("ZREM", KEYS[1 + i], ARGV[1 + i]) == 1 then
    released = released + 1
    local accountId = ARGV[1 + m + i]
    local wanted = redis.call("HGET", KEYS[1], accountId)
    if wanted then
      if tonumber(wanted) > now then redis.call("PUBLISH", ARGV[1], accountId) else redis.call("HDEL", KEYS[1], accountId) end
    end
  end
end
return released
