-- chunk(sid, start, count, now, rev): one slice of a store being loaded whole, so
-- that no single command holds the server for long. ARGV: the store id the
-- load began with, the first position, how many, now, the revision the load
-- began at. Returns {'moved'} (the store was replaced, invalidated or
-- expired since, or an id was removed from its order, which shifts the
-- positions: start again), {'end'}, or
-- {'chunk', ids, jsons} in insertion order.
local err = wrong_type({'hash', 'hash', 'list', 'list'})
if err then return err end
local m = live(ARGV[4])
if not m or m.sid ~= ARGV[1] or m.cut > tonumber(ARGV[5]) then return {'moved'} end
local start = tonumber(ARGV[2])
local ids = redis.call('LRANGE', ORDER, start, start + tonumber(ARGV[3]) - 1)
if #ids == 0 then return {'end'} end
return {'chunk', ids, redis.call('HMGET', ASSETS, unpack(ids))}
