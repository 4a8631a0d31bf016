--[[
  Writes a not-yet-active version: its ordered member list and its records, both expiring after ARGV[1] ms
  unless activated (so a writer that dies mid-way leaves nothing behind for long).
  KEYS[1]  version list (a '#' header element, then the member ids in order: the header keeps an empty
           snapshot distinguishable from a missing one)
  KEYS[2]  staged records hash (id -> record JSON)
  KEYS[3]  bucket meta hash (`active`)
  ARGV[1]  pending ttl, ms
  ARGV[2]  n, the number of members
  ARGV[3 .. 2+n]     member ids, in order
  ARGV[3+n .. 2+2n]  their records, same order
  ARGV[3+2n]         this version
  Returns  1; 0 when this version or a newer one is already active (nothing is written: a second commit of
           one version must not rewrite, or set an expiry on, the active list)
]]
local ttl = ARGV[1]
local count = tonumber(ARGV[2])
local chunk = 500
local active = tonumber(redis.call('HGET', KEYS[3], 'active') or '0')
if tonumber(ARGV[3 + 2 * count]) <= active then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('RPUSH', KEYS[1], '#')
for first = 1, count, chunk do
  local last = math.min(first + chunk - 1, count)
  local ids, fields = {}, {}
  for i = first, last do
    ids[#ids + 1] = ARGV[2 + i]
    fields[#fields + 1] = ARGV[2 + i]
    fields[#fields + 1] = ARGV[2 + count + i]
  end
  redis.call('RPUSH', KEYS[1], unpack(ids))
  redis.call('HSET', KEYS[2], unpack(fields))
end
redis.call('PEXPIRE', KEYS[1], ttl)
if count > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
