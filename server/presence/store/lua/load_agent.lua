-- load_agent: read one agent's state, connections and profile as one consistent snapshot.
--
-- KEYS[1] agent state hash   (fields: doc, version, tag)
-- KEYS[2] agent connections hash (connection id -> instance id)
-- KEYS[3] agent profile string (JSON)
--
-- Returns {doc or false, version (0 when absent), {conn, instance, ...}, profile or false,
--          tag ("" when absent; see commit_agent)}
local st = redis.call('HMGET', KEYS[1], 'doc', 'version', 'tag')
local conns = redis.call('HGETALL', KEYS[2])
local profile = redis.call('GET', KEYS[3])
return {st[1], tonumber(st[2] or '0'), conns, profile, st[3] or ''}
