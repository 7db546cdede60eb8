--[[
  Records answers to the questions an input_required task still asks; answers to other keys (unknown,
  or answered already) are ignored. When no question is left the task goes back to working, which its
  runner waits for. Any other status takes the answers as a no-op.

  KEYS: [1] task record.
  ARGV: [1] agent, [2] now ms, [3] answers json object, [4] change channel, [5] task id.
  Returns -1 when the agent has no such task (or it is past its deadline), else the number of questions left.
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'agent', 'expiresAt', 'inputRequests', 'answers', 'lastUpdatedAt')
if not f[1] or f[2] ~= ARGV[1] then return -1 end
if tonumber(ARGV[2]) >= tonumber(f[3]) then return -1 end
if f[1] ~= 'input_required' or not f[4] then return 0 end
local asked = cjson.decode(f[4])
local answers = f[5] and cjson.decode(f[5]) or {}
local given = cjson.decode(ARGV[3])
if type(given) ~= 'table' then return 0 end
for key, value in pairs(given) do
  if asked[key] ~= nil then
    answers[key] = value
    asked[key] = nil
  end
end
local left = 0
for _ in pairs(asked) do left = left + 1 end
redis.call('HSET', KEYS[1], 'answers', cjson.encode(answers))
if left == 0 then
  local updated = math.max(tonumber(ARGV[2]), tonumber(f[6]))
  redis.call('HSET', KEYS[1], 'status', 'working', 'lastUpdatedAt', string.format('%d', updated))
  redis.call('HDEL', KEYS[1], 'inputRequests')
else
  redis.call('HSET', KEYS[1], 'inputRequests', cjson.encode(asked))
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return left
