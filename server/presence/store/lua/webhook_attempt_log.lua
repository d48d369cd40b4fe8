-- webhook_attempt_log: log one delivery attempt of a subscription, once (decision 76).
--
-- KEYS[1] the subscription's attempts list (newest first)
--
-- ARGV[1] the attempt's JSON (its time in ms, message id, attempt number, outcome...)
-- ARGV[2] how many attempts the list keeps
--
-- A call sent again after it ran (its reply lost: the client resends it, decision 72)
-- finds its attempt among the newest few and logs nothing: two attempts never have the
-- same JSON (the same message, attempt number and millisecond) otherwise.
--
-- Returns 1 when it logged the attempt, 0 when it was already there.
local recent = redis.call('LRANGE', KEYS[1], 0, 15)
for i = 1, #recent do
  if recent[i] == ARGV[1] then
    return 0
  end
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
