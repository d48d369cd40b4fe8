-- release_reservation: drop an agent's pending-offer reservation only if it still holds
-- the given offer (a newer offer's reservation is left alone). The value is
-- "<offer id> <token>" (the token of the call that reserved: decision 72), or a bare
-- offer id written before the token.
--
-- KEYS[1] agent offer reservation string
-- ARGV[1] offer id
--
-- Returns 1 if released, 0 otherwise.
local held = redis.call('GET', KEYS[1])
if held and (held == ARGV[1] or string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ' ') then
  return redis.call('DEL', KEYS[1])
end
return 0
