-- webhook_fanout: move a partition's new source-stream entries into the queues of the
-- subscriptions that want them, and advance the partition's cursor, in one step: an
-- entry is queued exactly once (decision 47).
--
-- KEYS[1] partition lease string
-- KEYS[2] partition cursor string (last source id fanned out)
-- KEYS[3..] subscription queue streams
--
-- ARGV[1] instance id (must hold the lease)
-- ARGV[2] the cursor the caller read from ("" when there was none)
-- ARGV[3] the new cursor
-- ARGV[4..] groups of four per queued message: queue index (1 = KEYS[3]), order key,
--           message id (webhook-id), body JSON
--
-- Returns 1, or 0 (nothing written) when the lease or the cursor moved meanwhile.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local cursor = redis.call('GET', KEYS[2]) or ''
if cursor ~= ARGV[2] then
  return 0
end
for i = 4, #ARGV, 4 do
  local queue = KEYS[2 + tonumber(ARGV[i])]
  redis.call('XADD', queue, '*', 'k', ARGV[i + 1], 'm', ARGV[i + 2], 'b', ARGV[i + 3])
end
redis.call('SET', KEYS[2], ARGV[3])
return 1
