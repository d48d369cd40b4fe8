-- apply_expiries: commit the prepared grace expiries of some due agents of one shard
-- (decision 64). A commit that opened (or kept) a grace window stored, with its state,
-- the expiry the rules decided for the deadline ("prep" field of the state hash, written
-- by commit_steps.lua); this script commits it exactly as commit_agent.lua commits a
-- transition, for each agent whose prepared expiry still holds:
-- - the state is still the one it was prepared from (its version and its tag: any later
--   commit of the agent, or a lost write, changed them, and removed or replaced "prep");
-- - the profile's bytes are still those it was made with (their SHA-1);
-- - its deadline (the expiry's time) is at or before now.
-- Every other agent is left untouched and reported, for the sweep to decide in Python.
--
-- KEYS[1]   shard due index zset
-- KEYS[2]   shard events stream
-- KEYS[3..] for each agent of the shard, three keys: state hash, profile string,
--           history stream
--
-- ARGV[1]   shard channel (SPUBLISH)
-- ARGV[2]   events stream max length (approximate trim)
-- ARGV[3]   now ms (injected clock): only expiries due by then are applied
-- ARGV[4..] the agents' ids, in KEYS order
--
-- Returns one entry per agent, in order: the new tag (events stream id) when its expiry
-- was committed, else 0.
--#include commit_steps

local function lines(s)
  local out, from = {}, 1
  while true do
    local stop = string.find(s, '\n', from, true)
    if not stop then
      out[#out + 1] = string.sub(s, from)
      return out
    end
    out[#out + 1] = string.sub(s, from, stop - 1)
    from = stop + 1
  end
end

local now = tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local k = 3 + (i - 4) * 3
  local agent = ARGV[i]
  local st = redis.call('HMGET', KEYS[k], 'version', 'tag', 'prep')
  local applied = 0
  if st[3] then
    local p = lines(st[3])
    local profile = redis.call('GET', KEYS[k + 1])
    if p[1] == (st[1] or '0') .. ' ' .. (st[2] or '') and profile
        and p[2] == redis.sha1hex(profile) and tonumber(p[4]) <= now then
      local hist = {}
      for j = 9, #p do
        hist[#hist + 1] = p[j]
      end
      local idle_member, idle_ms = '', ''
      if p[6] ~= '' then
        idle_member = 'idle:' .. agent
        if p[6] ~= '-' then
          idle_ms = p[6]
        end
      end
      applied = commit_steps({
        state = KEYS[k], conns = '', due = KEYS[1], events = KEYS[2],
        history = KEYS[k + 2], doc = p[7], version = tonumber(p[3]),
        conn_op = '', conn_id = '', instance = '',
        due_member = 'grace:' .. agent, due_ms = '', idle_member = idle_member,
        idle_ms = idle_ms, channel = ARGV[1], maxlen = ARGV[2], now = tonumber(p[4]),
        min_id = p[5], event = p[8], hist = hist, prep = '', profile = profile,
        had_prep = true,
      })
    end
  end
  out[#out + 1] = applied
end
return out
