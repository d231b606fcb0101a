-- commit(sid, expiry, count): makes the staged store (KEYS[5] hash, KEYS[6]
-- list) the live one in one step, with a fresh expiry: a reader sees the old
-- store or the new one, never a mix. RENAME moves a key without copying it;
-- the old store is UNLINKed, so freeing it happens off the main thread.
-- ARGV: the new store id, its expiry, the number of assets staged.
-- Returns {sid, 0, expiry}.
local err = wrong_type({'hash', 'hash', 'list', 'list', 'hash', 'list'})
if err then return err end
local count = tonumber(ARGV[3])
if redis.call('HLEN', KEYS[5]) ~= count then
  return redis.error_reply('ERR asset-cache: the staged store "' .. KEYS[5] ..
    '" is incomplete (it expired before add_list finished); nothing was replaced')
end
redis.call('UNLINK', META, ASSETS, ORDER, LOG)
if count > 0 then
  redis.call('RENAME', KEYS[5], ASSETS)
  redis.call('RENAME', KEYS[6], ORDER)
end
local m = start_store(ARGV[1], ARGV[2])
expire_at(m.expiry)
return {m.sid, 0, m.expiry}
