-- recover_agent: rebuild an agent whose stored state cannot be decoded (decision 75), at
-- most once: keep what was stored for forensics, then commit the agent as newly
-- registered.
--
-- KEYS[1..6] as commit_agent's: state hash, connections hash, shard due index, shard
--            events stream, agent history stream, agent profile
-- KEYS[7]    the agent's quarantine hash (same hash tag)
--
-- ARGV[1]  what the caller read at KEYS[1]: "hash" (a hash, or nothing) or "other" (a key
--          of another type)
-- ARGV[2]  the "doc" field the caller read ("" when none)
-- ARGV[3]  the "tag" field the caller read ("" when none)
-- ARGV[4]  why the state is unreadable (text, kept in the quarantine)
-- ARGV[5]  how long the quarantine is kept (ms)
-- ARGV[6..] commit_agent's ARGV[1..]: the commit of the rebuilt agent (its expected
--          version and tag are not read; the connection op is "clear")
--
-- Only when KEYS[1] still holds what the caller read (the same type; for a hash the same
-- doc and tag — every commit writes a new tag): the quarantine hash is replaced by
-- {cause, at (ms), type (of KEYS[1]), state (DUMP of KEYS[1], for RESTORE), conns (DUMP of
-- KEYS[2]), and each field of a hash KEYS[1] as "f:<field>"} with the TTL, KEYS[1] and
-- KEYS[2] are deleted and the commit is written by commit_steps (history ids after the
-- history stream's last, whatever the old hash said). Two instances recovering the same
-- agent: the second finds another doc and tag and writes nothing.
--
-- Returns {1, new version, events stream id (the new tag)} when this call recovered the
-- agent (also when it is sent again after it ran: its commit id is in "cids",
-- decision 72), else {0}.
--#include commit_steps

local function arg(i)
  return ARGV[5 + i]
end

local profile = redis.pcall('GET', KEYS[6])
if type(profile) ~= 'string' then
  return {0}  -- not configured (any more), or its key holds another type: nothing to rebuild
end
local kind = redis.call('TYPE', KEYS[1])['ok']
local same
if ARGV[1] == 'other' then
  same = kind ~= 'hash' and kind ~= 'none'
else
  same = kind == 'hash' or kind == 'none'
  if same then
    local st = redis.call('HMGET', KEYS[1], 'doc', 'tag', 'version', 'cids')
    same = (st[1] or '') == ARGV[2] and (st[2] or '') == ARGV[3]
    if not same and cids_hold(st[4], arg(19)) then
      return {1, tonumber(st[3]), st[2]}
    end
  end
end
if not same then
  return {0}
end

local now = tonumber(arg(10))
local kept = {'cause', ARGV[4], 'at', now, 'type', kind}
local dumped = redis.call('DUMP', KEYS[1])
if dumped then
  kept[#kept + 1] = 'state'
  kept[#kept + 1] = dumped
end
dumped = redis.call('DUMP', KEYS[2])
if dumped then
  kept[#kept + 1] = 'conns'
  kept[#kept + 1] = dumped
end
if kind == 'hash' then
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    kept[#kept + 1] = 'f:' .. fields[i]
    kept[#kept + 1] = fields[i + 1]
  end
end
redis.call('DEL', KEYS[7])
redis.call('HSET', KEYS[7], unpack(kept))
redis.call('PEXPIRE', KEYS[7], ARGV[5])
redis.call('DEL', KEYS[1], KEYS[2])

-- History ids only grow: start after the stream's last entry.
local last = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
local hist_ms = '0'
if #last > 0 then
  hist_ms = string.match(last[1][1], '^(%d+)')
end
local hist = {}
for i = 20, #ARGV - 5 do
  hist[#hist + 1] = arg(i)
end
local id = commit_steps({
  state = KEYS[1], conns = KEYS[2], due = KEYS[3], events = KEYS[4], history = KEYS[5],
  doc = arg(2), version = tonumber(arg(13)),
  conn_op = 'clear', conn_id = '', instance = '',
  due_member = arg(6), due_ms = arg(7), idle_member = arg(16), idle_ms = arg(17),
  channel = arg(8), maxlen = arg(9), now = now, min_id = arg(11),
  event = arg(12), hist = hist, prep = arg(18), profile = profile,
  hist_ms = hist_ms, had_prep = false, cid = arg(19), cids = false,
})
return {1, tonumber(arg(13)), id}
