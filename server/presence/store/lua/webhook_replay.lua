-- webhook_replay: queue a replay's messages in one subscription's queue of one
-- partition, once per call (decision 76).
--
-- KEYS[1] the subscription's queue stream of the partition
-- KEYS[2] this call's mark string (partition tag, named after the call's id)
--
-- ARGV[1] how long the mark is kept (ms): longer than a client resends a call
-- ARGV[2..] groups of three per message: order key, message id (webhook-id), body JSON
--
-- The call is sent again, with the same words, when its trip failed after Valkey ran
-- it (a reset or timeout: the client resends, decision 72). The first run sets the mark;
-- a run that finds it queues nothing.
--
-- Returns how many messages this call queued (0 when it was sent again after it ran).
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
for i = 2, #ARGV, 3 do
  redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'm', ARGV[i + 1], 'b', ARGV[i + 2])
end
return (#ARGV - 1) / 3
