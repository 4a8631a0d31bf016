--[[
  Releases the leases it is given (charging their keys with what their requests used), then takes a
  concurrency slot on the best of several candidate accounts, in one round trip; optionally in turn behind
  the waiters of a queue, and optionally admitting a request of a key with counted limits.

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

  With an admission, the key's limits are checked before any slot is weighed: a budget whose window's spend
  has reached it, or a rate whose sliding minute is full, refuses the request (and takes it out of the queue).
  A request already admitted (a failover's acquisition, flagged by the caller; a re-send finds its lease held) is
  not checked nor counted again. A slot taken counts the request in the key's minute (a key with a request rate). The spend hash is rebuilt by the gateway from the usage log when
  it is gone (no `ready` field): the script answers "cold" until an admission brings the seed. The windows
  are the gateway's (its clock and BUDGET_TIMEZONE), not Redis's TIME.

  Safe to run twice: when a candidate already holds the lease id (ioredis re-sent the call after a
  reconnect, and the first run's answer was lost), the script answers that candidate and takes nothing.
  Time is Redis's own (TIME) for leases, so replicas with skewed clocks agree on when a lease ends; a script
  that calls TIME and then writes needs effects replication, the only mode since Redis 7 (the default since 5).

  KEYS[1]            the wanted marks: a hash, account id -> until when a waiter wants it (epoch ms), and
                     field "#seq", the sequence that orders every queue
  KEYS[2], KEYS[3]   the queue: its order (sorted set, ticket by arrival number) and its heartbeats (ticket by
                     last sign of life); both only read when ARGV[4] is 1
  KEYS[4..3+n]       one sorted set of leases per candidate (member: lease id, score: expiry epoch ms)
  then, with an admission (a = 1): the key's requests and tokens (hashes of a sliding minute: epoch second ->
                     amount, "sum", "from"), spend (hash: ready, day, dayUsd, week, weekUsd, month,
                     monthUsd, totalUsd) and leases (sorted set, request id by expiry: its concurrency)
  then 2 keys per charge: the charged key's tokens and spend hashes
  KEYS[..]           the sorted sets of the leases to release; all keys share one hash tag
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
  ARGV[10+3n]        a: 1 with an admission, 0 without
  ARGV[11+3n]        c: the number of charges
  then, when a = 1, 22 values: request id, now (epoch ms), requestsPerMinute, tokensPerMinute, costPerDayUsd,
                     costPerWeekUsd, costPerMonthUsd, costTotalUsd (each "" for none), dayStart, dayEnd,
                     weekStart, weekEnd, monthStart, monthEnd, 1 when seeded else 0, the seed's dayUsd,
                     weekUsd, monthUsd, totalUsd, how long the spend hash lives (ms), the key's concurrency (""), 1 when
                     an earlier acquisition of the request took a slot (not checked, nor counted, again) else 0
  then 6 values per charge: tokens, USD, now (epoch ms), dayStart, weekStart, monthStart
  then               the lease id to release from each release key, then each one's account id

  Returns the 1-based index of the chosen candidate; 0 when none was taken (queued, when asked to join);
  -1 when the queue was full; -2 when the key's spend counters are gone (send the seed); -4 when the key has
  as many requests in flight as its concurrency (the request leaves the queue: it waits for the key); {-3, limit, retry
  after ms (-1: never)} when a limit of the key is reached, limit 1-6: requestsPerMinute, tokensPerMinute,
  costPerDayUsd, costPerWeekUsd, costPerMonthUsd, costTotalUsd.
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
local admitted = ARGV[10 + 3 * n] == "1"
local c = tonumber(ARGV[11 + 3 * n])
local admissionArgs = 11 + 3 * n
local chargeArgs = admissionArgs + (admitted and 22 or 0)
local admissionKeys = CANDIDATES + n
local chargeKeys = admissionKeys + (admitted and 4 or 0)
local releaseKeys = chargeKeys + 2 * c
local m = #KEYS - releaseKeys
local releaseArgs = chargeArgs + 6 * c
local MINUTE = 60000

-- A sliding minute kept per second: fields <epoch second> -> amount, "sum" (of the seconds kept) and "from" (the
-- oldest second kept). The window moves a second at a time, so each request prunes the few seconds it passed.
local function slideTo(key, cutoff)
  local from = tonumber(redis.call("HGET", key, "from") or "")
  if from == nil then return 0, cutoff + 1 end
  local sum = tonumber(redis.call("HGET", key, "sum") or "0")
  if from <= cutoff then
    if cutoff - from > 120 then
      -- Idle for long: one read of the whole (small) hash.
      local fields = redis.call("HGETALL", key)
      sum = 0
      for k = 1, #fields, 2 do
        local second = tonumber(fields[k])
        if second then
          if second <= cutoff then redis.call("HDEL", key, fields[k]) else sum = sum + tonumber(fields[k + 1]) end
        end
      end
    else
      for second = from, cutoff do
        local amount = redis.call("HGET", key, tostring(second))
        if amount then
          sum = sum - tonumber(amount)
          redis.call("HDEL", key, tostring(second))
        end
      end
    end
    redis.call("HSET", key, "sum", sum, "from", cutoff + 1)
    from = cutoff + 1
  end
  return sum, from
end

local function addTo(key, second, amount)
  local from = tonumber(redis.call("HGET", key, "from") or "")
  if from == nil then
    redis.call("HSET", key, "from", second)
    from = second
  end
  if second >= from then
    redis.call("HINCRBY", key, tostring(second), amount)
    redis.call("HINCRBY", key, "sum", amount)
  end
  redis.call("PEXPIRE", key, 2 * 60000)
end

-- The first second still holding an amount: when the window lets the next one through.
local function oldestKept(key, from)
  for second = from, from + 61 do
    if redis.call("HEXISTS", key, tostring(second)) == 1 then return second end
  end
  return from
end

-- What a finished request used: tokens in its second; cost in its windows, only while the spend is kept
-- (when it is gone the usage log has the cost, and the rebuild reads it).
for j = 1, c do
  local base = chargeArgs + 6 * (j - 1)
  local tokensKey = KEYS[chargeKeys + 2 * j - 1]
  local spendKey = KEYS[chargeKeys + 2 * j]
  local tokens = tonumber(ARGV[base + 1])
  if tokens > 0 then addTo(tokensKey, math.floor(tonumber(ARGV[base + 3]) / 1000), tokens) end
  if tonumber(ARGV[base + 2]) > 0 and redis.call("HEXISTS", spendKey, "ready") == 1 then
    local windows = { { "day", ARGV[base + 4] }, { "week", ARGV[base + 5] }, { "month", ARGV[base + 6] } }
    for _, window in ipairs(windows) do
      if redis.call("HGET", spendKey, window[1]) ~= window[2] then
        redis.call("HSET", spendKey, window[1], window[2], window[1] .. "Usd", ARGV[base + 2])
      else
        redis.call("HINCRBYFLOAT", spendKey, window[1] .. "Usd", ARGV[base + 2])
      end
    end
    redis.call("HINCRBYFLOAT", spendKey, "totalUsd", ARGV[base + 2])
  end
end

for j = 1, m do
  if redis.call("ZREM", KEYS[releaseKeys + j], ARGV[releaseArgs + j]) == 1 then
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

local requestsKey, requestId, keyNow
if admitted then
  requestsKey = KEYS[admissionKeys + 1]
  requestId = ARGV[admissionArgs + 1]
  keyNow = tonumber(ARGV[admissionArgs + 2])
end
if admitted and ARGV[admissionArgs + 22] ~= "1" then
  local tokensKey = KEYS[admissionKeys + 2]
  local spendKey = KEYS[admissionKeys + 3]
  local a = admissionArgs
  local function refuse(limit, retryAfter)
    if queued then
      redis.call("ZREM", KEYS[2], ticket)
      redis.call("ZREM", KEYS[3], ticket)
    end
    return { -3, limit, retryAfter }
  end
  if redis.call("HEXISTS", spendKey, "ready") == 0 then
    if ARGV[a + 15] ~= "1" then return -2 end
    redis.call("HSET", spendKey, "ready", "1", "day", ARGV[a + 9], "dayUsd", ARGV[a + 16], "week", ARGV[a + 11], "weekUsd", ARGV[a + 17],
      "month", ARGV[a + 13], "monthUsd", ARGV[a + 18], "totalUsd", ARGV[a + 19])
    redis.call("PEXPIRE", spendKey, tonumber(ARGV[a + 20]))
  end
  -- Budgets: the spend of the current window (a window begun since the last charge has spent nothing).
  local budgets = { { 3, "day", ARGV[a + 5], ARGV[a + 9], ARGV[a + 10] }, { 4, "week", ARGV[a + 6], ARGV[a + 11], ARGV[a + 12] },
    { 5, "month", ARGV[a + 7], ARGV[a + 13], ARGV[a + 14] } }
  for _, budget in ipairs(budgets) do
    if budget[3] ~= "" and redis.call("HGET", spendKey, budget[2]) == budget[4] then
      local spent = tonumber(redis.call("HGET", spendKey, budget[2] .. "Usd") or "0")
      if spent >= tonumber(budget[3]) then return refuse(budget[1], tonumber(budget[5]) - keyNow) end
    end
  end
  if ARGV[a + 8] ~= "" and tonumber(redis.call("HGET", spendKey, "totalUsd") or "0") >= tonumber(ARGV[a + 8]) then return refuse(6, -1) end
  -- Rates: the sliding minute, by the second.
  local cutoff = math.floor((keyNow - MINUTE) / 1000)
  if ARGV[a + 3] ~= "" then
    local sent, from = slideTo(requestsKey, cutoff)
    if sent >= tonumber(ARGV[a + 3]) then return refuse(1, math.max(1, oldestKept(requestsKey, from) * 1000 + MINUTE - keyNow)) end
  end
  if ARGV[a + 4] ~= "" then
    local used, from = slideTo(tokensKey, cutoff)
    if used >= tonumber(ARGV[a + 4]) then return refuse(2, math.max(1, oldestKept(tokensKey, from) * 1000 + MINUTE - keyNow)) end
  end
end

-- The key's own concurrency: one lease per request (its id), held across its acquisitions.
local keyLeases = nil
if admitted and ARGV[admissionArgs + 21] ~= "" then
  local leases = KEYS[admissionKeys + 4]
  local held = redis.call("ZSCORE", leases, requestId)
  if not held or tonumber(held) <= now then
    redis.call("ZREMRANGEBYSCORE", leases, "-inf", now)
    if redis.call("ZCARD", leases) >= tonumber(ARGV[admissionArgs + 21]) then
      if queued then
        redis.call("ZREM", KEYS[2], ticket)
        redis.call("ZREM", KEYS[3], ticket)
      end
      return -4
    end
    keyLeases = leases
  end
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
  -- Only a key with a request rate keeps its requests (a set of a minute of requests is not free at high rates).
  if admitted and ARGV[admissionArgs + 3] ~= "" and ARGV[admissionArgs + 22] ~= "1" then
    addTo(requestsKey, math.floor(keyNow / 1000), 1)
  end
  if keyLeases then
    redis.call("ZADD", keyLeases, now + ttl, requestId)
    redis.call("PEXPIRE", keyLeases, ttl)
  end
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
