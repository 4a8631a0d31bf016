--[[
  Releases the leases it is given, then takes a concurrency slot on the best of several candidate
  accounts, in one round trip; optionally in turn behind the waiters of a queue.

  Candidates come in preference order (priority ascending, then least recently used). Within the first
  priority tier that has a free slot, the least loaded account (in-flight / concurrency) wins; ties keep
  the given order. Leases expire by themselves, so a crashed process cannot leak slots for longer than
  the lease. Releases ride along with acquisitions so that a busy gateway spends one command per
  request on slots, not two.

  With a queue, first come is first served: a request takes a slot only while fewer waiters are ahead of
  it than the candidates have free slots (a newcomer has every waiter ahead of it). One that may not, and
  asks to join, is queued (up to the limit) and marks its candidates as wanted, so that releasing a slot on
  one of them publishes the account's id for the waiters to try again. Waiters prove they are alive by a
  heartbeat (`slot-queue-heartbeat.lua`); one not heard of for the stale time (its gateway died) is dropped.

  Safe to run twice: when a candidate already holds the lease id (ioredis re-sent the call after a
  reconnect, and the first run's answer was lost), the script answers that candidate and takes nothing.
  Time is Redis's own (TIME), so replicas with skewed clocks agree on when a lease ends; a script that
  calls TIME and then writes needs effects replication, the only mode since Redis 7 (the default since 5).

  KEYS[1]            the wanted marks: a hash, account id -> until when a waiter wants it (epoch ms), and
                     field "#seq", the sequence that orders every queue
  KEYS[2], KEYS[3]   the queue: its order (sorted set, ticket by arrival number) and its heartbeats (ticket by
                     last sign of life); both only read when ARGV[4] is 1
  KEYS[4..3+n]       one sorted set of leases per candidate (member: lease id, score: expiry epoch ms)
  KEYS[4+n..]        the sorted sets of the leases to release; all keys share one hash tag
  ARGV[1]            lease TTL, ms
  ARGV[2]            lease id
  ARGV[3]            n, the number of candidates
  ARGV[4]            1 to go by the queue, 0 not to
  ARGV[5]            the ticket in the queue
  ARGV[6]            1 to join the queue when no slot is taken, 0 not to
  ARGV[7]            the queue's limit of waiters
  ARGV[8]            a waiter unheard of for this long is dropped, ms; also how long a wanted mark lasts
  ARGV[9]            the channel releases publish on
  ARGV[10..9+3n]     per candidate i: ARGV[7+3i] account id, ARGV[8+3i] concurrency, ARGV[9+3i] priority
  ARGV[10+3n..]      the lease id to release from each release key, then each one's account id

  Returns the 1-based index of the chosen candidate; 0 when none was taken (queued, when asked to join);
  -1 when the queue was full.
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
local leaseId = ARGV[2]
local n = tonumber(ARGV[3])
local queued = ARGV[4] == "1"
local ticket = ARGV[5]
local staleMs = tonumber(ARGV[8])
local channel = ARGV[9]
local CANDIDATES = 3
local m = #KEYS - CANDIDATES - n
local releaseArgs = 9 + 3 * n

for j = 1, m do
  if redis.call("ZREM", KEYS[CANDIDATES + n + j], ARGV[releaseArgs + j]) == 1 then
    local accountId = ARGV[releaseArgs + m + j]
    local wanted = redis.call("HGET", KEYS[1], accountId)
    if wanted then
      if tonumber(wanted) > now then redis.call("PUBLISH", channel, accountId) else redis.call("HDEL", KEYS[1], accountId) end
    end
  end
end
for i = 1, n do
  local held = redis.call("ZSCORE", KEYS[CANDIDATES + i], leaseId)
  if held and tonumber(held) > now then return i end
end

local inFlight = {}
local free = 0
for i = 1, n do
  local key = KEYS[CANDIDATES + i]
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
  inFlight[i] = redis.call("ZCARD", key)
  local room = tonumber(ARGV[8 + 3 * i]) - inFlight[i]
  if room > 0 then free = free + room end
end

local ahead = 0
if queued then
  local stale = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now - staleMs, "LIMIT", 0, 100)
  if #stale > 0 then
    redis.call("ZREM", KEYS[2], unpack(stale))
    redis.call("ZREM", KEYS[3], unpack(stale))
  end
  ahead = redis.call("ZRANK", KEYS[2], ticket) or redis.call("ZCARD", KEYS[2])
end

local best = 0
if ahead < free then
  local bestLoad = 0
  local bestPriority = nil
  for i = 1, n do
    local concurrency = tonumber(ARGV[8 + 3 * i])
    local priority = tonumber(ARGV[9 + 3 * i])
    if bestPriority ~= nil and priority > bestPriority then break end
    if inFlight[i] < concurrency then
      local load = inFlight[i] / concurrency
      if best == 0 or load < bestLoad then
        best = i
        bestLoad = load
        bestPriority = priority
      end
    end
  end
end

if best > 0 then
  redis.call("ZADD", KEYS[CANDIDATES + best], now + ttl, leaseId)
  redis.call("PEXPIRE", KEYS[CANDIDATES + best], ttl)
  if queued then
    redis.call("ZREM", KEYS[2], ticket)
    redis.call("ZREM", KEYS[3], ticket)
  end
  return best
end
if not queued or ARGV[6] ~= "1" then return 0 end
if not redis.call("ZSCORE", KEYS[2], ticket) then
  if redis.call("ZCARD", KEYS[2]) >= tonumber(ARGV[7]) then return -1 end
  -- Scored by a sequence, not the clock: many join within one millisecond, and members of equal score
  -- sort by name, which would not be their order of arrival.
  redis.call("ZADD", KEYS[2], redis.call("HINCRBY", KEYS[1], "#seq", 1), ticket)
end
redis.call("ZADD", KEYS[3], now, ticket)
redis.call("PEXPIRE", KEYS[2], staleMs * 4)
redis.call("PEXPIRE", KEYS[3], staleMs * 4)
for i = 1, n do
  redis.call("HSET", KEYS[1], ARGV[7 + 3 * i], now + staleMs)
end
return 0
