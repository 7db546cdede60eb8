--[[
  Checks all of a call's rate limits at once: counts the call in every limit's log, or in none when
  any limit is full.

  KEYS (variadic): per limit i, KEYS[2i-1] = its log (sorted set, score = ms timestamp),
                   KEYS[2i] = its retention.
  ARGV: ARGV[1] = this call's unique member, then per limit ARGV[2i] = window ms, ARGV[2i+1] = max.
  Returns {0, 0} when allowed (every log got the call), or {i, retryMs} for the first full limit i
  (nothing written but the trimming of entries no window needs any more).

  Several rules may share a counter with different windows (a minute limit and an hour limit on
  `vm_ops`), so a log keeps entries for the longest window ever used on it (its retention key), never
  just this call's window. The clock is Redis's TIME, so replicas with skewed clocks agree; effects
  replication (the default since Redis 5, requested explicitly for older servers) makes that safe.
]]
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local keep = {}
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local stored = tonumber(redis.call('GET', KEYS[2 * i]) or '0') or 0
  keep[log] = math.max(keep[log] or 0, stored, tonumber(ARGV[2 * i]))
end
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local window = tonumber(ARGV[2 * i])
  local max = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - keep[log])
  local since = '(' .. string.format('%.0f', now - window)
  local count = redis.call('ZCOUNT', log, since, '+inf')
  if count >= max then
    -- allowed again once count falls to max - 1, i.e. when the (count - max)th oldest in the window leaves
    local e = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
    local retry = window
    if e[2] then retry = tonumber(e[2]) + window - now end
    return {i, math.ceil(retry)}
  end
end
for i = 1, n do
  local log = KEYS[2 * i - 1]
  redis.call('ZADD', log, string.format('%.0f', now), ARGV[1])
  redis.call('PEXPIRE', log, keep[log])
  redis.call('SET', KEYS[2 * i], keep[log], 'PX', keep[log])
end
return {0, 0}
