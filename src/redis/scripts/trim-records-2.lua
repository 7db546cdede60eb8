--[[
  Deletes up to ARGV[2] records older than the cutoff (exclusive), oldest first, with their stored
  results and their entries in the all-records and pending indexes; the other indexes are trimmed by
  trim-index-2.

  KEYS: [1] all-records index, [2] pending index.
  ARGV: [1] cutoff (epoch ms), [2] batch size, [3] record key prefix.
  Returns how many records were deleted.
]]
local ids = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[3] .. id, ARGV[3] .. id .. ':result')
  redis.call('ZREM', KEYS[2], id)
end
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return #ids
