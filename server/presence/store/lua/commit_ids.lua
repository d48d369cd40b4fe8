-- commit_ids: the ids of the last few commits of one record, kept with it (decision 72).
-- Not a script of its own: the script loader (store/scripts.py: script_source) puts this
-- file where a script has the line "--#include commit_ids".
--
-- Every call that commits (commit_agent.lua, apply_expiries.lua, commit_item.lua) carries
-- an id its caller made up for that call (unique per call, the same when the call is sent
-- again), and stores it in the record's "cids" field: the ids of the record's last
-- CIDS_KEPT commits, newest first, separated by spaces. A call sent again after its trip
-- failed (the connection lost or timed out after Valkey ran it: the client resends it)
-- then finds its own id there, and answers as the call that ran instead of as a
-- compare-and-set miss.

local CIDS_KEPT = 4
-- Every id is this many characters (store/commit_ids.py: ID_WIDTH), so the kept ids are
-- cut and searched without splitting them (decision 72, measured in decision 69's
-- instruction count).
local CID_WIDTH = 20

-- "cids" after a commit with id cid: cid first, then the newest of the earlier ones.
local function cids_pushed(cids, cid)
  if not cids then
    return cid
  end
  return cid .. ' ' .. string.sub(cids, 1, (CIDS_KEPT - 1) * (CID_WIDTH + 1) - 1)
end

-- Whether the id cid is one of "cids" (false or a string): that call committed. Ids of
-- one width separated by single spaces: a match can only be a whole id. An id of
-- another width (not made by CommitIds) is matched as a whole word.
local function cids_hold(cids, cid)
  if not cids or cid == '' then
    return false
  end
  if #cid == CID_WIDTH then
    return string.find(cids, cid, 1, true) ~= nil
  end
  return string.find(' ' .. cids .. ' ', ' ' .. cid .. ' ', 1, true) ~= nil
end
