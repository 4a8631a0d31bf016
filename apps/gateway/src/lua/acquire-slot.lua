--[[
  Releases the leases it is given, then takes a concurrency slot on the best of several candidate
  accounts, in one round trip.

  Candidates come in preference order (priority ascending, then least recently used). Within the first
  priority tier that has a free slot, the least loaded account (in-flight / concurrency) wins; ties keep
  the given order. Leases expire by themselves, so a crashed process cannot leak slots for longer than
  the lease. Releases ride along with acquisitions so that a busy gateway spends one command per
  request on slots, not two.

  Safe to run twice: when a candidate already holds the lease id (ioredis re-sent the call after a
  reconnect, and the first run's answer was lost), the script answers that candidate and takes nothing.
  Time is Redis's own (TIME), so replicas with skewed clocks agree on when a lease ends; a script that
  calls TIME and then writes needs effects replication, the only mode since Redis 7 (the default since 5).

  KEYS[1..n]      one sorted set of leases per candidate (member: lease id, score: expiry epoch ms)
  KEYS[n+1..n+m]  the sorted sets of the leases to release; all keys share one hash tag
  ARGV[1]         lease TTL, ms
  ARGV[2]         lease id
  ARGV[3]         n, the number of candidates
  ARGV[4..3+2n]   per candidate i: ARGV[2+2i] concurrency, ARGV[3+2i] priority
  ARGV[4+2n..]    the lease id to release from each of KEYS[n+1..n+m]

  Returns the 1-based index of the chosen candidate, or 0 when every candidate is full.
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
local leaseId = ARGV[2]
local n = tonumber(ARGV[3])
for j = n + 1, #KEYS do
  redis.call("ZREM", KEYS[j], ARGV[3 + 2 * n + (j - n)])
end
for i = 1, n do
  local held = redis.call("ZSCORE", KEYS[i], leaseId)
  if held and tonumber(held) > now then return i end
end
local best = 0
local bestLoad = 0
local bestPriority = nil
for i = 1, n do
  local concurrency = tonumber(ARGV[2 + 2 * i])
  local priority = tonumber(ARGV[3 + 2 * i])
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
  redis.call("ZADD", KEYS[best], now + ttl, leaseId)
  redis.call("PEXPIRE", KEYS[best], ttl)
end
return best
