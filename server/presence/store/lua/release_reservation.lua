-- release_reservation: drop an agent's pending-offer reservation only if it still holds
-- the given offer (a newer offer's reservation is left alone).
--
-- KEYS[1] agent offer reservation string
-- ARGV[1] offer id
--
-- Returns 1 if released, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
