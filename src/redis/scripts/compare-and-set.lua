--[[
  Compare-and-set on a record's version (first writer wins). On success it also maintains the pending
  index, moves the record between the history status indexes when its status changed, stores the
  result when given, and announces the change to every replica.

  KEYS (variadic, 4 or 9): [1] record, [2] pending index, [3] result, [4] events channel; when the
                           status changed also [5] index registry, [6..7] the old status and
                           tool+status indexes, [8..9] the new ones.
  ARGV: [1] expected version, [2] record json, [3] '1' when it left pending, [4] result json or '',
        [5] result ttl ms, [6] id, [7] createdAt (the index score).
  Returns 1 when written, 0 when another writer was first, -1 when there is no record.
]]
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'v', tostring(tonumber(v) + 1))
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[6]) end
if #KEYS > 4 then
  redis.call('ZREM', KEYS[6], ARGV[6])
  redis.call('ZREM', KEYS[7], ARGV[6])
  redis.call('ZADD', KEYS[8], ARGV[7], ARGV[6])
  redis.call('ZADD', KEYS[9], ARGV[7], ARGV[6])
  redis.call('SADD', KEYS[5], KEYS[8], KEYS[9])
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
redis.call('PUBLISH', KEYS[4], ARGV[6])
return 1
