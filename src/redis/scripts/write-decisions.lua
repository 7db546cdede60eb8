--[[
  Stores direct-decision records with their index entries, atomically per record. Never overwrites:
  an id that already has a record (an approval request) keeps it. Several records per call, so a busy
  gateway's history costs one script run per batch rather than one per call.

  KEYS (variadic): [1] index registry, [2] events channel, then per record its key and its
                   ARGV[1] indexes.
  ARGV: [1] indexes per record, [2] record ttl ms, then per record json, score, id.
  Returns how many records were new.
]]
local per = 1 + tonumber(ARGV[1])
local n = (#KEYS - 2) / per
local written = 0
for i = 0, n - 1 do
  local k = 3 + i * per
  local a = 3 + i * 3
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('HSET', KEYS[k], 'json', ARGV[a], 'v', '1')
    redis.call('PEXPIRE', KEYS[k], ARGV[2])
    for j = k + 1, k + per - 1 do
      redis.call('ZADD', KEYS[j], ARGV[a + 1], ARGV[a + 2])
      redis.call('SADD', KEYS[1], KEYS[j])
    end
    redis.call('PUBLISH', KEYS[2], ARGV[a + 2])
    written = written + 1
  end
end
return written
