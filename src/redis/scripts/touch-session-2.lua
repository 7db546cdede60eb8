--[[
  Reads a 2025-era session and restarts its idle time, only while it exists: a session deleted or
  expired between requests must not come back as a stub hash.

  KEYS: [1] the session's record hash, [2] its subscriptions set.
  ARGV: [1] idle time in ms, [2] now (ms, the replica's clock: lastSeen is informational).
  Returns the record's fields and values (HGETALL, lastSeen already updated), or false when it is gone.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'lastSeen', ARGV[2])
return redis.call('HGETALL', KEYS[1])
