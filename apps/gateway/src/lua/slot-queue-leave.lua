--[[
  Takes waiters out of their queues (a client that left, a wait that timed out), or, with ARGV[1] = "beat",
  renews their heartbeats (each gateway, for its own waiters, on its safety-net tick).

  KEYS[2i-1], KEYS[2i]  a queue's order and heartbeats (sorted sets; all keys share one hash tag)
  ARGV[1]               "leave" or "beat"
  ARGV[1+i]             the ticket in the i-th queue

  Returns how many tickets were found.
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local found = 0
for i = 1, #KEYS / 2 do
  local ticket = ARGV[1 + i]
  if ARGV[1] == "beat" then
    found = found + redis.call("ZADD", KEYS[2 * i], "XX", "CH", now, ticket)
  else
    found = found + redis.call("ZREM", KEYS[2 * i - 1], ticket)
    redis.call("ZREM", KEYS[2 * i], ticket)
  end
end
return found
