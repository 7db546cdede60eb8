--[[
  Removes up to ARGV[2] entries older than the cutoff from one index (they are its lowest ranks), and
  forgets the index once it is empty.

  KEYS: [1] index, [2] index registry.
  ARGV: [1] cutoff (epoch ms), [2] batch size.
  Returns how many entries were removed.
]]
local n = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1])
local cap = tonumber(ARGV[2])
if n > cap then n = cap end
if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1) end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], KEYS[1]) end
return n
