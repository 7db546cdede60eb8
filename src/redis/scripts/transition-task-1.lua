--[[
  Changes a task's status when it is still in one of the allowed statuses. Terminal statuses
  (completed, failed, cancelled) are final here whatever the caller allows, so of racing terminal
  writes (cancel, completion, failure) exactly one lands. A task of another agent, or past its
  readable deadline, is treated as absent.

  KEYS: [1] task record.
  ARGV: [1] agent, or '' for Airlock itself (an approval release), [2] now ms, [3] allowed current
        statuses, space-separated, [4] new status, [5] status message ('' removes it),
        [6] result json or '', [7] error json or '', [8] the channel a change is announced on, [9] the task id announced,
        [10] the unanswered input requests json when the new status is input_required, else ''.
  Returns {1, new status} when written, {0, current status} when refused, {-1, ''} when absent.
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'agent', 'expiresAt', 'lastUpdatedAt')
if not f[1] then return {-1, ''} end
if ARGV[1] ~= '' and f[2] ~= ARGV[1] then return {-1, ''} end
if tonumber(ARGV[2]) >= tonumber(f[3]) then return {-1, ''} end
local s = f[1]
if s == 'completed' or s == 'failed' or s == 'cancelled' then return {0, s} end
if not string.find(' ' .. ARGV[3] .. ' ', ' ' .. s .. ' ', 1, true) then return {0, s} end
local updated = math.max(tonumber(ARGV[2]), tonumber(f[4]))
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'lastUpdatedAt', string.format('%d', updated))
if ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], 'statusMessage')
else
  redis.call('HSET', KEYS[1], 'statusMessage', ARGV[5])
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[7]) end
-- A new round of questions starts with no answers; any other status has no questions.
redis.call('HDEL', KEYS[1], 'answers')
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'inputRequests', ARGV[10])
else
  redis.call('HDEL', KEYS[1], 'inputRequests')
end
redis.call('PUBLISH', ARGV[8], ARGV[9])
return {1, ARGV[4]}
