-- webhook_health: count one delivery attempt in a subscription's health, once
-- (decision 76): a success sets its consecutive failures to 0, a failure adds one.
--
-- KEYS[1] the subscription's health hash (fields: failures, cids)
--
-- ARGV[1] this call's id (unique per call, the same when the call is sent again)
-- ARGV[2] "1" the attempt succeeded, "0" it failed
--
-- A call sent again after it ran finds its id in "cids" (the ids of the last few calls,
-- as decision 72's commit ids) and counts nothing again.
--
-- Returns the consecutive failures after this attempt.
--#include commit_ids

local st = redis.call('HMGET', KEYS[1], 'failures', 'cids')
if cids_hold(st[2], ARGV[1]) then
  return tonumber(st[1] or '0')
end
local failures = 0
if ARGV[2] == '0' then
  failures = tonumber(st[1] or '0') + 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'cids', cids_pushed(st[2], ARGV[1]))
return failures
