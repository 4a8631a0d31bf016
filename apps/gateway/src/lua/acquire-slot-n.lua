--[[
  Takes a concurrency slot on the best of several candidate accounts, in one round trip.

  Candidates come in preference order (priority ascending, then least recently used). Within the first
  priority tier that has a free slot, the least loaded account (in-flight / concurrency) wins; ties keep
  the given order. Leases expire by themselves, so a crashed process cannot leak slots for longer than
  the lease.

  KEYS[1..n]  one sorted set of leases per candidate (member: lease id, score: expiry epoch ms);
              all share one hash tag
  ARGV[1]     now, epoch ms
  ARGV[2]     lease TTL, ms
  ARGV[3]     lease id
  ARGV[4..]   per candidate i: ARGV[2+2i] concurrency, ARGV[3+2i] priority

  Returns the 1-based index of the chosen candidate, or 0 when every candidate is full.
]]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local best = 0
local bestLoad = 0
local bestPriority = nil
for i = 1, #KEYS do
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
  redis.call("ZADD", KEYS[best], now + ttl, ARGV[3])
  redis.call("PEXPIRE", KEYS[best], ttl)
end
return best
