-- add(id, json): insert or replace one asset. ARGV: id, json, now, the
-- expiry and store id of a fresh store (used only if one starts), log length
-- to keep. Returns {sid, rev, expiry} of the store written.
local err = wrong_type({'hash', 'hash', 'list', 'list'})
if err then return err end
local m = live(ARGV[3])
if not m then
  -- An expired (or absent) store: the add starts a fresh one.
  redis.call('UNLINK', META, ASSETS, ORDER, LOG)
  m = start_store(ARGV[5], ARGV[4])
end
-- A new id goes to the end of the order; a replaced one keeps its place.
if redis.call('HSET', ASSETS, ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', ORDER, ARGV[1])
end
redis.call('RPUSH', LOG, ARGV[1])
local rev = redis.call('HINCRBY', META, 'rev', 1)
-- The log only serves readers catching up: keep its last `keep` entries
-- once it holds twice that (a reader further behind reloads the store).
local keep = tonumber(ARGV[6])
if rev - m.base > 2 * keep then
  local drop = rev - m.base - keep
  redis.call('LTRIM', LOG, drop, -1)
  redis.call('HSET', META, 'base', m.base + drop)
end
-- The first write to a store creates its keys (a store that add_list
-- started empty has only its meta): they get the store's expiry then.
if rev == 1 then expire_at(m.expiry) end
return {m.sid, rev, m.expiry}
