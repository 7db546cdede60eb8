--[[
  Extends the lease of a task that the calling replica is running, while the task is still active.
  A task that ended (for instance cancelled from another replica) keeps its fields; its status tells
  the runner to stop.

  KEYS: [1] task record.
  ARGV: [1] lease deadline, epoch ms.
  Returns the task's status, or '' when the task is gone.
]]
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return '' end
if s == 'working' or s == 'input_required' then redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[1]) end
return s
