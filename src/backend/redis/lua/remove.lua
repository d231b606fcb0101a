-- remove(id): removes one asset from the live store. ARGV: id, now, log
-- length to keep. Returns {sid, rev, entries, removed}: the store, its
-- revision after, the log entries written (0 or 1), 1 when the id was there
-- ({'', 0, 0, 0} when there is no live store).
local m, err = live(ARGV[2])
if err then return err end
err = wrong_type({'', 'hash', 'list', 'list'})
if err then return err end
if not m then return {'', 0, 0, 0} end
local id = ARGV[1]
if redis.call('HDEL', ASSETS, id) == 0 then
  return {m.sid, revision(m), 0, 0}
end
redis.call('LREM', ORDER, 1, id)
local rev = log_entries(m, {removal(id)}, tonumber(ARGV[3]), true)
return {m.sid, rev, 1, 1}
