--[[
  Releases leases, each from its account's sorted set; an account a waiter wants has its id published. A
  release that ends a request of a key with counted limits charges the key with what the request used (the
  same charge as in `acquire-slot.lua`).

  KEYS[1]           the wanted marks: a hash, account id -> until when a waiter wants it (epoch ms)
  KEYS[2..1+2c]     per charge: the key's tokens hash (a sliding minute by the second) and spend hash
  KEYS[2+2c..]      the sorted sets of the leases (all keys share one hash tag)
  ARGV[1]           the channel releases publish on
  ARGV[2]           c, the number of charges
  ARGV[3..2+6c]     per charge: tokens, USD, now (epoch ms), dayStart, weekStart, monthStart
  then              the lease id to remove from each sorted set, then the account id of each

  Returns how many of the leases were still held (the others had expired).
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local c = tonumber(ARGV[2])
local m = #KEYS - 1 - 2 * c

-- As in acquire-slot.lua: a sliding minute kept per second ("sum" and "from" beside the seconds).
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

for j = 1, c do
  local base = 2 + 6 * (j - 1)
  local tokensKey = KEYS[2 * j]
  local spendKey = KEYS[2 * j + 1]
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

local keys = 1 + 2 * c
local args = 2 + 6 * c
local released = 0
for i = 1, m do
  if redis.call("ZREM", KEYS[keys + i], ARGV[args + i]) == 1 then
    released = released + 1
    local accountId = ARGV[args + m + i]
    local wanted = redis.call("HGET", KEYS[1], accountId)
    if wanted then
      if tonumber(wanted) > now then redis.call("PUBLISH", ARGV[1], accountId) else redis.call("HDEL", KEYS[1], accountId) end
    end
  end
end
return released
