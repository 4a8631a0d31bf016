--[[
  Moves last-used times forward (never back) for accounts a bucket holds records of. Does not bump the
  bucket's `changes`: last-used moves on every request and must not invalidate read-through caches.
  KEYS[1]  bucket accounts hash
  KEYS[2]  bucket last-used hash
  ARGV     pairs: account id, epoch ms
  Returns  the number of times moved
]]
local moved = 0
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    local current = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '-1')
    if tonumber(ARGV[i + 1]) > current then
      redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
      moved = moved + 1
    end
  end
end
return moved
