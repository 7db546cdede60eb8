--[[
  Attaches an identical retry to the request it repeats, or stores a new one, atomically, with its
  history index entries, and announces a new request for live views. A request that ended in
  rejection/expiry/cancellation attaches only until that outcome was delivered.

  KEYS (variadic): [1] dedupe pointer, [2] record, [3] pending index, [4] history index registry,
                   [5..] the record's history indexes (scored by createdAt).
  ARGV: [1] id, [2] record json, [3] dedupe ttl ms, [4] createdAt, [5] record key prefix,
        [6] record ttl ms, [7] events channel.
  Returns {1, json} when stored, {0, json of the existing record} when attached.
]]
local existing = redis.call('GET', KEYS[1])
if existing then
  local raw = redis.call('HGET', ARGV[5] .. existing, 'json')
  if raw then
    local r = cjson.decode(raw)
    local s = r.status
    if s == 'pending' or s == 'approved' or s == 'executing' or s == 'executed' or s == 'failed' or not r.delivered then
      return {0, raw}
    end
  end
end
redis.call('HSET', KEYS[2], 'json', ARGV[2], 'v', '1')
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  redis.call('SADD', KEYS[4], KEYS[i])
end
redis.call('PUBLISH', ARGV[7], ARGV[1])
return {1, ARGV[2]}
