-- load_agent: read one agent's state, connections and profile, consistently (one script).
--
-- KEYS[1] agent state hash   (fields: doc, version, tag)
-- KEYS[2] agent connections hash (connection id -> instance id)
-- KEYS[3] agent profile string (JSON)
-- KEYS[4] optional: the agent's pending-offer reservation string (a sign-in reads it too)
--
-- Returns {doc or false, version (0 when absent), {conn, instance, ...}, profile or false,
--          tag ("" when absent; see commit_agent)}, plus the reservation's value (the offer
--          id and its token: store/replies.py reserved_offer) or false with KEYS[4]
local st = redis.call('HMGET', KEYS[1], 'doc', 'version', 'tag')
local conns = redis.call('HGETALL', KEYS[2])
local profile = redis.call('GET', KEYS[3])
if KEYS[4] then
  return {st[1], tonumber(st[2] or '0'), conns, profile, st[3] or '', redis.call('GET', KEYS[4])}
end
return {st[1], tonumber(st[2] or '0'), conns, profile, st[3] or ''}
