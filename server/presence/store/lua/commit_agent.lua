-- commit_agent: apply one decided transition of one agent atomically, if nobody else did
-- first (compare-and-set on the version), then record and announce it.
--
-- KEYS[1] agent state hash      (fields: doc, version, tag, hist_ms)
-- KEYS[2] agent connections hash (connection id -> instance id)
-- KEYS[3] shard due index zset   (member -> deadline ms)
-- KEYS[4] shard events stream    (supervisor feed)
-- KEYS[5] agent history stream   (presence changes, ids in injected-clock ms)
-- KEYS[6] agent profile string   (JSON)
--
-- ARGV[1]  expected version (the version the decision was made from)
-- ARGV[2]  new state document (JSON)
-- ARGV[3]  connection op: "add" | "del" | "clear" (remove all) | ""
-- ARGV[4]  connection id
-- ARGV[5]  instance id (for "add")
-- ARGV[6]  due member (e.g. "grace:A1")
-- ARGV[7]  due deadline ms, or "" to remove the member
-- ARGV[8]  shard channel (SPUBLISH)
-- ARGV[9]  events stream max length (approximate trim)
-- ARGV[10] now ms (injected clock)
-- ARGV[11] history min id ms (retention; "0" keeps all)
-- ARGV[12] event JSON published and appended to the events stream
-- ARGV[13] new version (greater than the expected one)
-- ARGV[14] the profile JSON the decision was made with (byte-exact)
-- ARGV[15] the tag of the state the decision was made from ("" if it had none)
-- ARGV[16] idle due member (e.g. "idle:A1"), or "" to leave it alone (decision 43)
-- ARGV[17] idle deadline ms, or "" to remove the idle member
-- ARGV[18] the prepared grace expiry of the new state, or "" (decision 64): a msgpack
--          array {new version, at ms, history min id ms, idle member, idle deadline ms,
--          state JSON, event JSON, history entry JSON...}, the idle pair as ARGV[16] and
--          ARGV[17]; stored in the state hash's "prep" field, stamped ("pfrom")
--          with this commit's version, tag and profile (commit_steps.lua)
-- ARGV[19] this call's commit id (unique per call; decision 72, commit_ids.lua)
-- ARGV[20..] history entries JSON, oldest first
--
-- The writes themselves are commit_steps (commit_steps.lua), shared with
-- apply_expiries.lua.
--
-- The decision may come from the caller's in-process copy of the agent, so the check
-- covers both halves of what the rules read: the versioned state (and its connections,
-- which only this script changes) and the separately stored profile. The state is
-- matched on its version and its tag, the events stream id of the commit that wrote it:
-- after a crash that lost acknowledged writes, a version number can be written again
-- with other content, but never with the same tag (stream ids only grow with time).
-- On a miss the script returns the agent as it is now, exactly as load_agent does, so the
-- retry decides from it without another round trip.
--
-- A call sent again after it ran (its trip failed before the reply came back, and the
-- client resent it) finds its commit id in the state's "cids" instead of a conflict: it
-- returns what it returned the first time when its commit is still the agent's last,
-- else {2, ...} with the agent as it is now (decision 72).
--
-- A state key of another type, a version that is no number or a connections key of
-- another type are answered as a miss whose agent the caller finds unreadable (the error
-- reply in the doc or connections place; decision 75): nothing is written. So is a doc
-- that does not begin with '{' and end with '}', also when the version and tag match
-- (decision 82).
--
-- Returns {1, new version, events stream id (the new tag)}, or on conflict
-- {0, doc or false, current version, {conn, instance, ...}, profile or false, tag}, or
-- when this very call committed before and the agent changed since
-- {2, doc, current version, {conn, instance, ...}, profile or false, tag}.
--#include commit_steps

local st = redis.pcall('HMGET', KEYS[1], 'doc', 'version', 'tag', 'hist_ms', 'pfrom', 'cids')
if st.err then
  -- The state key holds another type: a miss that returns it unreadable (decision 75).
  return {0, st, 0, redis.pcall('HGETALL', KEYS[2]), redis.pcall('GET', KEYS[6]), ''}
end
local current = tonumber(st[2] or '0')
local tag = st[3] or ''
local profile = redis.pcall('GET', KEYS[6])
if current ~= tonumber(ARGV[1]) or tag ~= ARGV[15] or profile ~= ARGV[14] then
  -- A version that is no number is returned as stored (the caller finds it unreadable).
  local shown = current or st[2]
  if cids_hold(st[6], ARGV[19]) then
    if current == tonumber(ARGV[13]) then
      return {1, current, tag}
    end
    return {2, st[1], shown, redis.pcall('HGETALL', KEYS[2]), profile, tag}
  end
  return {0, st[1], shown, redis.pcall('HGETALL', KEYS[2]), profile, tag}
end
-- The caller's copy is current, so it decided without reading the stored doc: one that
-- does not begin with '{' and end with '}' was not written by a commit (every doc is a
-- JSON object; store/loaded.py finds such a doc unreadable too). Answered as a miss, so
-- the caller recovers the agent (decision 82) instead of writing over it unseen.
local doc = st[1]
if doc and (doc:byte(1) ~= 123 or doc:byte(-1) ~= 125) then
  return {0, doc, current, redis.pcall('HGETALL', KEYS[2]), profile, tag}
end
local hist = {}
for i = 20, #ARGV do
  hist[#hist + 1] = ARGV[i]
end
local id, err = commit_steps({
  state = KEYS[1], conns = KEYS[2], due = KEYS[3], events = KEYS[4], history = KEYS[5],
  doc = ARGV[2], version = tonumber(ARGV[13]),
  conn_op = ARGV[3], conn_id = ARGV[4], instance = ARGV[5],
  due_member = ARGV[6], due_ms = ARGV[7], idle_member = ARGV[16], idle_ms = ARGV[17],
  channel = ARGV[8], maxlen = ARGV[9], now = tonumber(ARGV[10]), min_id = ARGV[11],
  event = ARGV[12], hist = hist, prep = ARGV[18], profile = profile,
  hist_ms = st[4], had_prep = st[5] ~= false, cid = ARGV[19], cids = st[6],
})
if not id then
  return {0, st[1], current, err, profile, tag}
end
return {1, tonumber(ARGV[13]), id}
