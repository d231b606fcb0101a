-- add(id, json): insert or replace one asset. ARGV: id, json, now, the
-- expiry and store id of a fresh store (used only if one starts), log length
-- to keep, the size cap (0: none). Returns {sid, rev, entries, moved,
-- dropped...}: the store written, its revision, the log entries this add
-- wrote, 1 when the cap moved a replaced id to the newest place, and the
-- ids the cap dropped (oldest first).
--
-- The hot path of every write, so it makes as few calls as it safely can
-- (a script costs the server about 1 us per call it makes, on top of 3 us
-- to run at all): without a cap, each key is type-checked by its first
-- command, and a refusal undoes the writes before it exactly (see below).
local m, err = live(ARGV[3])
if err then return err end
local id, cap = ARGV[1], tonumber(ARGV[7])
if m and cap == 0 then
  -- The log first: nothing is written before it.
  local logged = redis.pcall('RPUSH', LOG, id)
  if type(logged) == 'table' then
    return failed(LOG, logged, 'list')
  end
  local new = redis.pcall('HSET', ASSETS, id, ARGV[2])
  if type(new) == 'table' then
    redis.call('RPOP', LOG)
    return failed(ASSETS, new, 'hash')
  end
  if new == 1 then
    -- A new id goes to the end of the order; a replaced one keeps its place.
    local pushed = redis.pcall('RPUSH', ORDER, id)
    if type(pushed) == 'table' then
      redis.call('HDEL', ASSETS, id) -- it was new: nothing else to restore
      redis.call('RPOP', LOG)
      return failed(ORDER, pushed, 'list')
    end
  end
  local rev = trim_log(m, logged, tonumber(ARGV[6]))
  if rev == 1 then expire_at(m.expiry) end
  return {m.sid, rev, 1, 0}
end
-- A fresh store or a cap: the lists are checked up front, as their writes
-- come after the hash's.
err = wrong_type({'', '', 'list', 'list'})
if err then return err end
if not m then
  -- An expired (or absent) store: the add starts a fresh one.
  err = wrong_type({'hash', 'hash'})
  if err then return err end
  redis.call('UNLINK', META, ASSETS, ORDER, LOG)
  m = start_store(ARGV[5], ARGV[4])
end
-- A new id goes to the end of the order; a replaced one keeps its place.
local new = redis.pcall('HSET', ASSETS, id, ARGV[2])
if type(new) == 'table' and new['err'] then
  return failed(ASSETS, new, 'hash')
end
local entries, moved, dropped = {id}, 0, {}
if new == 1 then
  redis.call('RPUSH', ORDER, id)
elseif cap > 0 and redis.call('LINDEX', ORDER, -1) ~= id then
  -- Under a size cap the most recently written assets are kept: a
  -- replaced id moves to the newest place (logged as a removal, then the
  -- write, so that readers move it too).
  redis.call('LREM', ORDER, 1, id)
  redis.call('RPUSH', ORDER, id)
  entries = {removal(id), id}
  moved = 1
end
if cap > 0 then
  local over = redis.call('LLEN', ORDER) - cap
  for _ = 1, over do
    local d = redis.call('LPOP', ORDER)
    redis.call('HDEL', ASSETS, d)
    entries[#entries + 1] = removal(d)
    dropped[#dropped + 1] = d
  end
end
local rev = log_entries(m, entries, tonumber(ARGV[6]), moved == 1 or #dropped > 0)
-- The first write to a store creates its keys (a store that add_list
-- started empty has only its meta): they get the store's expiry then.
if rev == #entries then expire_at(m.expiry) end
local reply = {m.sid, rev, #entries, moved}
for _, d in ipairs(dropped) do reply[#reply + 1] = d end
return reply
