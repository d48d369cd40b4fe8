-- relay_item_event: append a work-item event that concerns an agent to the agent's
-- shard events stream, where its presence events are, so webhooks deliver both in the
-- order they were appended (decision 58). Idempotent per webhook-id: a relay repeated
-- after a crash (the sweep's repair) appends nothing.
--
-- KEYS[1] shard events stream
-- KEYS[2] agent relayed zset (webhook-id -> relay ms; the last 64 kept, for a day)
-- KEYS[3] agent profile string (JSON; its team is the event's)
--
-- ARGV[1] webhook-id of the event (msg_w-<workstream>_<item events stream id>)
-- ARGV[2] the item events stream entry (a JSON object)
-- ARGV[3] events stream max length (approximate trim)
-- ARGV[4] now ms
--
-- The entry is written as {"mid": ARGV[1], "team": <the profile's team or null>, ...}:
-- it is not published (agent sockets and supervisors do not read work-item events from
-- this stream) and the resume readers skip it.
--
-- Returns 1 if appended, 0 if this webhook-id was relayed before.
if redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -65)
redis.call('PEXPIRE', KEYS[2], 86400000)  -- a repair comes within minutes, not a day
local team = 'null'
local profile = redis.call('GET', KEYS[3])
if profile then
  local ok, doc = pcall(cjson.decode, profile)
  if ok and type(doc) == 'table' and type(doc.team) == 'string' then
    team = cjson.encode(doc.team)
  end
end
local entry = '{"mid":' .. cjson.encode(ARGV[1]) .. ',"team":' .. team .. ','
  .. string.sub(ARGV[2], 2)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', entry)
return 1
