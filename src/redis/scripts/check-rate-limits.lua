--[[
  Checks all of a call's rate limits at once: counts the call in every limit's log, or in none when
  any limit is full. With a lease asked for, it counts up to that many calls ahead for one replica.

  KEYS (variadic): per limit i, KEYS[2i-1] = its log (sorted set, score = ms timestamp),
                   KEYS[2i] = its retention.
  ARGV: ARGV[1] = this call's unique member (a lease's id), ARGV[2] = how many calls to count (1: this
        call only), ARGV[3] = the lease's length in ms, then per limit ARGV[2i+2] = window ms,
        ARGV[2i+3] = max.
  Returns {0, 0, n} when allowed: n calls were counted in every log (this one and n - 1 ahead), or
  {i, retryMs, 0} for the first full limit i (nothing written but the trimming of entries no window
  needs any more).

  A lease takes at most an eighth of the room the fullest limit has left, and only when that is at
  least 2: near its max, and always below a max of 16, a limit counts one call per run. A lease's
  entries are scored at its end (now + its length), since the replica may spend any of them until
  then, so each stays in the window at least as long as the call it stands for; members are
  `<id>:<j>`, and the replica removes the ones it did not spend when the lease ends.

  Several rules may share a counter with different windows (a minute limit and an hour limit on
  `vm_ops`), so a log keeps entries for the longest window ever used on it (its retention key), never
  just this call's window. The clock is Redis's TIME, so replicas with skewed clocks agree; effects
  replication (the default since Redis 5, requested explicitly for older servers) makes that safe.
]]
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local n = #KEYS / 2
local keep = {}
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local stored = tonumber(redis.call('GET', KEYS[2 * i]) or '0') or 0
  keep[log] = math.max(keep[log] or 0, stored, tonumber(ARGV[2 * i + 2]))
end
local share = want
for i = 1, n do
  local log = KEYS[2 * i - 1]
  local window = tonumber(ARGV[2 * i + 2])
  local max = tonumber(ARGV[2 * i + 3])
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - keep[log])
  local since = '(' .. string.format('%.0f', now - window)
  local count = redis.call('ZCOUNT', log, since, '+inf')
  if count >= max then
    -- allowed again once count falls to max - 1, i.e. when the (count - max)th oldest in the window leaves
    local e = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
    local retry = window
    if e[2] then retry = tonumber(e[2]) + window - now end
    return {i, math.ceil(retry), 0}
  end
  share = math.min(share, math.floor((max - count) / 8))
end
local entries = {string.format('%.0f', now), ARGV[1]}
local granted = 1
local ahead = 0
if want > 1 and share >= 2 then
  granted = share
  ahead = leaseMs
  entries = {}
  local score = string.format('%.0f', now + ahead)
  for j = 0, granted - 1 do
    entries[2 * j + 1] = score
    entries[2 * j + 2] = ARGV[1] .. ':' .. j
  end
end
for i = 1, n do
  local log = KEYS[2 * i - 1]
  redis.call('ZADD', log, unpack(entries))
  redis.call('PEXPIRE', log, keep[log] + ahead)
  redis.call('SET', KEYS[2 * i], keep[log], 'PX', keep[log])
end
return {0, 0, granted}
