-- apply_expiries: commit the prepared grace expiries of some due agents of one shard
-- (decision 64). A commit that opened (or kept) a grace window stored, with its state,
-- the expiry the rules decided for the deadline ("prep" field of the state hash, written
-- by commit_steps.lua); this script commits it exactly as commit_agent.lua commits a
-- transition, for each agent whose prepared expiry still holds:
-- - the state is still the one it was prepared from (its version and its tag, kept in
--   "pfrom": any later commit of the agent, or a lost write, changed them, and removed
--   or replaced "prep");
-- - the profile's bytes are still those it was made with (their SHA-1, in "pfrom");
-- - the record has this code's layout (PREP_LAYOUT, in "pfrom": one written by a version
--   with another layout is not unpacked as if it had this one);
-- - its deadline (the expiry's time) is at or before now.
-- Every other agent is left untouched and reported, for the sweep to decide in Python.
-- The committed agents' due members (grace removed, idle as prepared) are written once
-- for the whole call, after the last agent (decision 69).
--
-- KEYS[1]   shard due index zset
-- KEYS[2]   shard events stream
-- KEYS[3..] for each agent of the shard, three keys: state hash, profile string,
--           history stream
--
-- ARGV[1]   shard channel (SPUBLISH)
-- ARGV[2]   events stream max length (approximate trim)
-- ARGV[3]   now ms (injected clock): only expiries due by then are applied
-- ARGV[4]   this call's commit id (unique per call; decision 72, commit_ids.lua)
-- ARGV[5..] the agents' grace members in the due index ("grace:<agent>"), in KEYS order
--
-- Returns one entry per agent, in order: the new tag (events stream id) when its expiry
-- was committed, else 0. A call sent again after it ran (its trip failed before the reply
-- came back) reports the agents it committed the first time as committed (their commit
-- id is this call's): their current tag.
--#include commit_steps

-- Gather a due member to remove ('' ms) or to set to a deadline (ms) into the call's
-- one ZREM / ZADD; nothing when there is no member ('').
local function gather_due(due, member, ms)
  if member == '' then
    return
  end
  if ms == '' then
    due.zrem[#due.zrem + 1] = member
  else
    due.zadd[#due.zadd + 1] = ms
    due.zadd[#due.zadd + 1] = member
  end
end

-- The prepared expiry of the agent whose grace member is ARGV[i] (keys from KEYS[k])
-- committed if it still holds and is due by now: its new tag, else 0. Its due members
-- are not written here but gathered in `due` (see below).
-- The prepared record's array, or nil when the field does not unpack into the layout's
-- numbers and strings (a record that cannot be read is left to the Python path, which
-- decides from the state: decision 75).
local function prepared(raw)
  local ok, p = pcall(cmsgpack.unpack, raw)
  if not ok or type(p) ~= 'table' or type(p[1]) ~= 'number' or type(p[2]) ~= 'number'
      or type(p[6]) ~= 'string' or type(p[7]) ~= 'string' then
    return nil
  end
  return p
end

local function apply_one(k, grace_member, now, cid, due)
  local st = redis.pcall('HMGET', KEYS[k], 'version', 'tag', 'hist_ms', 'pfrom', 'prep',
                         'cids')
  if st.err then
    return 0  -- the key holds another type: left to the Python path (decision 75)
  end
  if cids_hold(st[6], cid) then
    return st[2]
  end
  if not st[5] then
    return 0
  end
  local p = prepared(st[5])
  if not p or p[2] > now then
    return 0
  end
  local profile = redis.pcall('GET', KEYS[k + 1])
  if type(profile) ~= 'string' or st[4] ~= prep_stamp(st[1] or '0', st[2] or '', profile) then
    return 0
  end
  local hist = {}
  for j = 8, #p do
    hist[#hist + 1] = p[j]
  end
  gather_due(due, grace_member, '')
  gather_due(due, p[4], p[5])
  return commit_steps({
    state = KEYS[k], conns = '', due = KEYS[1], events = KEYS[2], history = KEYS[k + 2],
    doc = p[6], version = tonumber(p[1]), conn_op = '', conn_id = '', instance = '',
    due_member = '', due_ms = '', idle_member = '', idle_ms = '',
    channel = ARGV[1], maxlen = ARGV[2], now = tonumber(p[2]),
    min_id = p[3], event = p[7], hist = hist, prep = '', profile = profile,
    hist_ms = st[3], had_prep = true, cid = cid, cids = st[6],
  })
end

-- The due index writes of the committed agents, one ZREM and one ZADD for the whole
-- call instead of one or two commands per agent (decision 69): the same members end up
-- removed or set to the same deadlines, as nothing else in this call reads them.
local due = {zrem = {}, zadd = {}}
local now = tonumber(ARGV[3])
local out = {}
for i = 5, #ARGV do
  out[#out + 1] = apply_one(3 + (i - 5) * 3, ARGV[i], now, ARGV[4], due)
end
if #due.zrem > 0 then
  redis.call('ZREM', KEYS[1], unpack(due.zrem))
end
if #due.zadd > 0 then
  redis.call('ZADD', KEYS[1], unpack(due.zadd))
end
return out
