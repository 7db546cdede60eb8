--[[
  Counts one use of a grant, only while the grant still exists: a grant revoked (deleted) between a
  call's lookup and this use must not come back as a hash without its expiry.

  KEYS: [1] grant hash.
  Returns the new use count, or false when the grant is gone.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'uses', 1)
