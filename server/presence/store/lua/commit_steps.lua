-- commit_steps: the writes of one agent commit, once for every script that commits an
-- agent (commit_agent.lua, apply_expiries.lua). Not a script of its own: the script
-- loader (store/scripts.py: script_source) puts this file where a script has the line
-- "--#include commit_steps".
--
-- commit_steps(c) writes, in this order: the connection op, the grace and idle due
-- members, the event (shard events stream, approximate trim; its id is the new tag),
-- the history entries (ids "<ms>-*" with ms = max(now, hist_ms), so ids never go back),
-- the state (doc, version, tag, hist_ms, and "cids" with this call's commit id) with the
-- agent's prepared grace expiry or without one, and the SPUBLISH of "<id> <event>". It
-- returns the new tag; or nil and the error reply, having written nothing, when the
-- connections key holds another type (decision 75).
--
-- c.state, c.conns, c.due, c.events, c.history   key names (KEYS of the caller)
-- c.doc, c.version                               new state JSON and its version
-- c.conn_op, c.conn_id, c.instance               "add" | "del" | "clear" | ""
-- c.due_member, c.due_ms                         grace member; "" ms removes it
-- c.idle_member, c.idle_ms                       "" member leaves it; "" ms removes it
-- c.channel, c.maxlen, c.now, c.min_id, c.event
-- c.hist                                         history entries JSON (a table)
-- c.hist_ms                                      the state hash's hist_ms (false if none)
-- c.prep, c.profile                              the prepared expiry of this new state
--                                                (msgpack, "" for none) and the profile
--                                                bytes it was made with (decision 64)
-- c.had_prep                                     the state hash holds a prepared expiry
-- c.cid, c.cids                                  this call's commit id and the state
--                                                hash's "cids" (false if none): the new
--                                                "cids" (commit_ids.lua, decision 72)
--
-- A prepared expiry is stored in the state hash's "prep" field as the caller gave it,
-- and "pfrom" = "<version> <tag> <sha1 of the profile> <layout>": it holds only while
-- the state is this very commit's (version and tag), the profile is unchanged and the
-- record has the layout of the code reading it (PREP_LAYOUT: a record written by a
-- version with another layout of the msgpack array is left to the Python path instead
-- of being misread). Any commit
-- without one removes both fields (the caller says whether there are any: no command is
-- spent on the commits of agents that never had one).
--#include commit_ids

-- The layout of the prepared record's msgpack array, changed whenever its elements change
-- (store/agents.py: PREPARED_LAYOUT, held equal by tests/unit/test_prepared_layout.py).
local PREP_LAYOUT = 'p2'

-- The stamp ("pfrom") a prepared expiry holds under: state version, tag, the profile's
-- SHA-1 and the record's layout.
local function prep_stamp(version, tag, profile)
  return version .. ' ' .. tag .. ' ' .. redis.sha1hex(profile) .. ' ' .. PREP_LAYOUT
end

-- A member of the shard's due index set to a deadline (ms), or removed ('' deadline);
-- nothing when there is no member ('').
local function set_due(due, member, ms)
  if member == '' then
    return
  end
  if ms == '' then
    redis.call('ZREM', due, member)
  else
    redis.call('ZADD', due, ms, member)
  end
end

-- The writes of one commit (see above).
local function commit_steps(c)
  if c.conn_op == 'add' or c.conn_op == 'del' then
    -- The first write: a connections key of another type fails here, before anything
    -- was written, and the caller returns the error (decision 75).
    local r
    if c.conn_op == 'add' then
      r = redis.pcall('HSET', c.conns, c.conn_id, c.instance)
    else
      r = redis.pcall('HDEL', c.conns, c.conn_id)
    end
    if type(r) == 'table' and r.err then
      return nil, r
    end
  elseif c.conn_op == 'clear' then
    redis.call('DEL', c.conns)
  end
  set_due(c.due, c.due_member, c.due_ms)
  set_due(c.due, c.idle_member, c.idle_ms)
  local id = redis.call('XADD', c.events, 'MAXLEN', '~', c.maxlen, '*', 'e', c.event)
  local fields = {'doc', c.doc, 'version', c.version, 'tag', id,
                  'cids', cids_pushed(c.cids, c.cid)}
  if #c.hist > 0 then
    local ms = math.max(c.now, tonumber(c.hist_ms or '0'))
    for i = 1, #c.hist do
      redis.call('XADD', c.history, 'MINID', '~', c.min_id, ms .. '-*', 'e', c.hist[i])
    end
    fields[#fields + 1] = 'hist_ms'
    fields[#fields + 1] = ms
  end
  if c.prep ~= '' then
    fields[#fields + 1] = 'pfrom'
    fields[#fields + 1] = prep_stamp(c.version, id, c.profile)
    fields[#fields + 1] = 'prep'
    fields[#fields + 1] = c.prep
  elseif c.had_prep then
    redis.call('HDEL', c.state, 'pfrom', 'prep')
  end
  redis.call('HSET', c.state, unpack(fields))
  redis.call('SPUBLISH', c.channel, id .. ' ' .. c.event)
  return id
end
