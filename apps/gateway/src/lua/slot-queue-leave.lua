--[[
  Takes waiters out of their queues (a client that left, a wait that timed out), or, with ARGV[1] = "beat",
  renews their heartbeats and their accounts' wanted marks (each gateway, for its own waiters, on its
  safety-net tick).

  KEYS[1]                    the wanted marks: a hash, account id -> until when a waiter wants it (epoch ms)
  KEYS[2i], KEYS[2i+1]       the i-th queue's order and heartbeats (sorted sets; all keys share one hash tag)
  ARGV[1]                    "leave" or "beat"
  ARGV[2]                    how long a wanted mark lasts, ms
  ARGV[3]                    q, the number of queues
  ARGV[3+i]                  the ticket in the i-th queue
  ARGV[4+q..]                accounts the waiters want (beat only)

  Returns how many tickets were found.
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local q = tonumber(ARGV[3])
local found = 0
for i = 1, q do
  local ticket = ARGV[3 + i]
  if ARGV[1] == "beat" then
    found = found + redis.call("ZADD", KEYS[2 * i + 1], "XX", "CH", now, ticket)
  else
    found = found + redis.call("ZREM", KEYS[2 * i], ticket)
    redis.call("ZREM", KEYS[2 * i + 1], ticket)
  end
end
for j = 4 + q, #ARGV do
  redis.call("HSET", KEYS[1], ARGV[j], now + tonumber(ARGV[2]))
end
return found
