-- commit_item: apply one decided work-item transition atomically if nobody else did first
-- (compare-and-set on the item's version), keeping the workstream queue and offer
-- deadlines in step with the item.
--
-- KEYS[1] item hash            (fields: doc, version)
-- KEYS[2] workstream queue zset (item id -> enqueue ms; oldest routed first)
-- KEYS[3] workstream due zset   (offer id -> offer deadline ms)
-- KEYS[4] workstream applying zset (item id -> ms after which the agent's capacity
--         change is re-applied, unless removed once it was committed)
-- KEYS[5] workstream events stream (outbound webhook events of its items, decision 47)
-- KEYS[6] workstream relay zset (events to relay into an agent's shard stream, dec. 58)
-- KEYS[7] with a held op only: the workstream's set of the items assigned to the item's
--         agent (decision 89)
--
-- ARGV[1] expected version ("0": the item must not exist yet)
-- ARGV[2] new document (JSON)
-- ARGV[3] new version
-- ARGV[4] item id
-- ARGV[5] queue op: "add" | "del" | ""
-- ARGV[6] queue score (enqueue ms) for "add"
-- ARGV[7] due op: "add" | "del" | ""
-- ARGV[8] due member (offer id)
-- ARGV[9] due score (deadline ms) for "add"
-- ARGV[10] "1": record the item in the applying zset at score ARGV[11]
-- ARGV[11] applying score (ms)
-- ARGV[12] event JSON appended to the events stream, or "" for none
-- ARGV[13] events stream max length (approximate trim)
-- ARGV[14] the agent the event concerns ("" none): the event is also recorded in the
--          relay zset as "<stream id> <agent>", so it reaches the agent's shard stream
--          (relay_item_event.lua) even if the caller dies before relaying it
-- ARGV[15] relay repair score (ms after which the sweep relays it)
-- ARGV[16] this call's commit id (unique per call; decision 72, commit_ids.lua), kept
--          in the item hash's "cids"
-- ARGV[17] held op: "add" (the item is now assigned to its agent) | "del" (an assigned
--          item is closed) | "": the item id added to or removed from KEYS[7], so an
--          agent's accepted items are found without its state (decision 89)
--
-- Returns {1, new version, events stream id or "", then for each earlier event of the
-- same agent still waiting in the relay zset (at most 200 looked at): its stream id and
-- entry} or {0, current version} on conflict. The caller relays those first, so an
-- event never overtakes an earlier one of its agent that another instance has not
-- relayed yet. A call sent again after it ran (its trip failed before the reply came
-- back, and the client resent it) finds its commit id in "cids" and returns
-- {2, current version}: committed, its event left to the sweep's relay (decision 72).
--#include commit_ids

local st = redis.call('HMGET', KEYS[1], 'version', 'cids')
local current = tonumber(st[1] or '0')
if current ~= tonumber(ARGV[1]) then
  if cids_hold(st[2], ARGV[16]) then
    return {2, current}
  end
  return {0, current}
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', ARGV[3],
           'cids', cids_pushed(st[2], ARGV[16]))
if ARGV[5] == 'add' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
elseif ARGV[5] == 'del' then
  redis.call('ZREM', KEYS[2], ARGV[4])
end
if ARGV[7] == 'add' then
  redis.call('ZADD', KEYS[3], ARGV[9], ARGV[8])
elseif ARGV[7] == 'del' then
  redis.call('ZREM', KEYS[3], ARGV[8])
end
if ARGV[17] == 'add' then
  redis.call('SADD', KEYS[7], ARGV[4])
elseif ARGV[17] == 'del' then
  redis.call('SREM', KEYS[7], ARGV[4])
end
if ARGV[10] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[11], ARGV[4])
end
local reply = {1, tonumber(ARGV[3]), ''}
if ARGV[12] ~= '' then
  local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[13], '*', 'e', ARGV[12])
  reply[3] = id
  if ARGV[14] ~= '' then
    local suffix = ' ' .. ARGV[14]
    for _, m in ipairs(redis.call('ZRANGE', KEYS[6], 0, 199)) do
      if string.sub(m, -#suffix) == suffix then
        local sid = string.sub(m, 1, #m - #suffix)
        local rows = redis.call('XRANGE', KEYS[5], sid, sid)
        if #rows > 0 then
          table.insert(reply, sid)
          table.insert(reply, rows[1][2][2])
        end
      end
    end
    redis.call('ZADD', KEYS[6], ARGV[15], id .. suffix)
  end
end
return reply
