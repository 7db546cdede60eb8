--[[
  Stores a new task with its per-agent index entry and, for a held call, the pointer from its
  approval request, atomically. An approval already bound to a live task of the same agent keeps it
  (an identical retry gets the same task); one bound to another agent's task is refused.

  KEYS (variadic, 2 or 3): [1] task record, [2] the agent's task index, [3] approval pointer.
  ARGV: [1] id, [2] key ttl ms, [3] index score (the task's readable deadline, epoch ms), [4] now (index
        entries scored below it are gone), [5] task record key prefix, [6] agent,
        [7..] the record's field/value pairs.
  Returns {1, id} when stored, {0, id of the existing task} when the approval already had one.
]]
if #KEYS > 2 then
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local owner = redis.call('HGET', ARGV[5] .. existing, 'agent')
    if owner == ARGV[6] then return {0, existing} end
    if owner then return redis.error_reply('ERR approval request is bound to another agent\'s task') end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR task id already in use') end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if #KEYS > 2 then redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {1, ARGV[1]}
