--[[
  Releases a lock only while it still holds this holder's token, so a holder whose lock expired
  cannot release the next holder's.

  KEYS: [1] lock.
  ARGV: [1] token.
  Returns 1 when released, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
