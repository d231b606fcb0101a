-- add(id, json): insert or replace one asset. ARGV: id, json, now, the
-- expiry and store id of a fresh store (used only if one starts), log length
-- to keep. Returns {sid, rev} of the store written.
--
-- The hot path of every write, so it makes as few calls as it safely can:
-- the meta and assets keys are type-checked by their first command (before
-- any write), the two lists up front (their writes come after another's).
local m, err = live(ARGV[3])
if err then return err end
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
local new = redis.pcall('HSET', ASSETS, ARGV[1], ARGV[2])
if type(new) == 'table' and new['err'] then
  return refuse(ASSETS, redis.call('TYPE', ASSETS)['ok'], 'hash')
end
if new == 1 then redis.call('RPUSH', ORDER, ARGV[1]) end
local logged = redis.call('RPUSH', LOG, ARGV[1])
local rev = m.base + logged
-- The log only serves readers catching up: keep its last `keep` entries
-- once it holds twice that (a reader further behind reloads the store).
local keep = tonumber(ARGV[6])
if logged > 2 * keep then
  redis.call('LTRIM', LOG, logged - keep, -1)
  redis.call('HSET', META, 'base', rev - keep)
end
-- The first write to a store creates its keys (a store that add_list
-- started empty has only its meta): they get the store's expiry then.
if rev == 1 then expire_at(m.expiry) end
return {m.sid, rev}
