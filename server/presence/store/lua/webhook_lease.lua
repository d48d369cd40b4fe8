-- webhook_lease: take or renew the lease on one partition's webhook delivery (decision 47).
--
-- KEYS[1] partition lease string (owner instance id, expiring)
--
-- ARGV[1] instance id asking
-- ARGV[2] lease time ms
--
-- The lease expires on Redis's clock, the time base every instance shares, so an
-- instance that died (or stopped renewing) loses it after ARGV[2] ms and the next
-- instance to ask takes the partition over.
--
-- Returns 1 if ARGV[1] holds the lease now, else 0.
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
