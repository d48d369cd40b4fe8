-- load_shard: one shard's event stream head and some of its agents, read atomically, so
-- a supervisor's snapshot (its first frame) holds exactly the events up to its cursor
-- (no event after the cursor is already in it, none before it is missing).
--
-- KEYS[1]   shard events stream
-- KEYS[2..] for each agent of the shard, three keys: state hash (fields: doc, version, tag),
--           connections hash (connection id -> instance id), profile string (JSON)
--
-- No ARGV.
--
-- Returns {head id ("0-0" when the stream is empty),
--          {doc or false, version, {conn, instance, ...}, profile or false, tag}, ...}:
--          one entry per agent, in KEYS order, each shaped like load_agent's reply (the
--          sweep and other reads of many agents use it too, ignoring the head); an
--          agent's state, connections or profile key of another type, or a version that is no
--          number, comes back as load_agent says (decision 75): one agent that cannot be
--          read does not fail the others' read
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local out = {'0-0'}
if #last > 0 then
  out[1] = last[1][1]
end
for i = 2, #KEYS, 3 do
  local st = redis.pcall('HMGET', KEYS[i], 'doc', 'version', 'tag')
  if st.err then
    st = {st, '0', false}
  end
  out[#out + 1] = {st[1], tonumber(st[2] or '0') or st[2], redis.pcall('HGETALL', KEYS[i + 1]),
                   redis.pcall('GET', KEYS[i + 2]), st[3] or ''}
end
return out
