-- claim(token, lease_ms, what, id, now): one try at the single-flight claim
-- KEYS[5] (a string key: SET NX PX). ARGV: this claimer's token, the lease
-- in ms, 'id' or 'all' ('claim-only': no check of the store), the id ('' for all), now. Returns 'done' when what
-- the claim is for is already stored in the live store (the asset, or for
-- 'all' a store with assets: a waiter then loads instead of fetching),
-- 'claimed', or 'held' (another claimer holds it).
local m, err = live(ARGV[5])
if err then return err end
local claim_type = redis.call('TYPE', KEYS[5])['ok']
if claim_type ~= 'none' and claim_type ~= 'string' then
  return refuse(KEYS[5], claim_type, 'string')
end
if m then
  local t = redis.call('TYPE', ASSETS)['ok']
  if t ~= 'none' and t ~= 'hash' then return refuse(ASSETS, t, 'hash') end
  if ARGV[3] == 'all' then
    if redis.call('HLEN', ASSETS) > 0 then return 'done' end
  elseif ARGV[3] == 'id' and redis.call('HEXISTS', ASSETS, ARGV[4]) == 1 then
    return 'done'
  end
end
if redis.call('SET', KEYS[5], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'claimed' end
-- Every claim asset-cache sets has a lease; one without (set by hand, or
-- copied by a tool that drops expiries) would hold every waiter of the fleet
-- until its lock timeout, forever: refuse it by name instead.
if redis.call('PTTL', KEYS[5]) == -1 then
  return redis.error_reply('ERR asset-cache: the claim key "' .. KEYS[5] ..
    '" has no lease (PTTL -1), so asset-cache did not set it and it would never end; remove it')
end
return 'held'
