--[[
  Releases the leases it is given, then takes a concurrency slot on the best of several candidate
  accounts, in one round trip.

  Candidates come in preference order (priority ascending, then least recently used). Within the first
  priority tier that has a free slot, the least loaded account (in-flight / concurrency) wins; ties keep
  the given order. Leases expire by themselves, so a crashed process cannot leak slots for longer than
  the lease. Releases ride along with acquisitions so that a busy gateway spends one command per
  request on slots, not two.

  KEYS[1..n]      one sorted set of leases per candidate (member: lease id, score: expiry epoch ms)
  KEYS[n+1..n+m]  the sorted sets of the leases to release; all keys share one hash tag
  ARGV[1]         now, epoch ms
  ARGV[2]         lease TTL, ms
  ARGV[3]         lease id
  ARGV[4]         n, the number of candidates
  ARGV[5..4+2n]   per candidate i: ARGV[3+2i] concurrency, ARGV[4+2i] priority
  ARGV[5+2n..]    the lease id to release from each of KEYS[n+1..n+m]

  Returns the 1-based index of the chosen candidate, or 0 when every candidate is full.
]]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[4])
for j = n + 1, #KEYS do
  redis.call("ZREM", KEYS[j], ARGV[4 + 2 * n + (j - n)])
end
local best = 0
local bestLoad = 0
local bestPriority = nil
for i = 1, n do
  local concurrency = tonumber(ARGV[3 + 2 * i])
  local priority = tonumber(ARGV[4 + 2 * i])
  if bestPriority ~= nil and priority > bestPriority then break end
  redis.call("ZREMRANGEBYSCORE", KEYS[i], "-inf", now)
  local inFlight = redis.call("ZCARD", KEYS[i])
  if inFlight < concurrency then
    local load = inFlight / concurrency
    if best == 0 or load < bestLoad then
      best = i
      bestLoad = load
      bestPriority = priority
    end
  end
end
if best > 0 then
  redis.call("ZADD", KEYS[best], now + ttl, ARGV[3])
  redis.call("PEXPIRE", KEYS[best], ttl)
end
return best
