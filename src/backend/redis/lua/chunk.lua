-- chunk(sid, start, count, now, rev): one slice of a store being loaded whole, so
-- that no single command holds the server for long. ARGV: the store id the
-- load began with, the first position, how many, now, the revision the load
-- stands at (that of its first slice). Returns {'moved'} (the store was
-- replaced, invalidated or expired since, or, for a slice after the first,
-- an id was removed from its order since the first, which shifts the
-- positions: start again), {'end', rev}, or {'chunk', ids, jsons, rev} in
-- insertion order, where rev is the store's revision as of this slice: the
-- first slice sets the revision the load stands at (so a store that fits in
-- one slice is read in one step, whatever was written since the catch-up
-- that found it).
local err = wrong_type({'hash', 'hash', 'list', 'list'})
if err then return err end
local m
m, err = live(ARGV[4])
if err then return err end
if not m or m.sid ~= ARGV[1] then return {'moved'} end
local start = tonumber(ARGV[2])
if start > 0 and m.cut > tonumber(ARGV[5]) then return {'moved'} end
local rev = revision(m)
local ids = redis.call('LRANGE', ORDER, start, start + tonumber(ARGV[3]) - 1)
if #ids == 0 then return {'end', rev} end
return {'chunk', ids, redis.call('HMGET', ASSETS, unpack(ids)), rev}
