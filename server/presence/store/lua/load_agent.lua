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
--
-- A state, connections or profile key of another type is returned as its error reply in
-- its value's place, and a version that is no number as it is stored: the caller finds
-- the state unreadable (store/loaded.py, decision 75) instead of the script failing.
local st = redis.pcall('HMGET', KEYS[1], 'doc', 'version', 'tag')
if st.err then
  st = {st, '0', false}
end
local conns = redis.pcall('HGETALL', KEYS[2])
local profile = redis.pcall('GET', KEYS[3])
local version = tonumber(st[2] or '0') or st[2]
if KEYS[4] then
  return {st[1], version, conns, profile, st[3] or '', redis.call('GET', KEYS[4])}
end
return {st[1], version, conns, profile, st[3] or ''}
