-- catchup(sid, rev, max, now): what changed since the reader's version.
-- ARGV: the reader's store id ('' for none), its revision, the most log
-- entries to answer with, now. Returns {'none'} (no live store), {'same', sid, rev, expiry},
-- {'whole', sid, rev, expiry} (another store, or too far behind the log:
-- load it in chunks), or {'delta', sid, upto, expiry, entries, ids, jsons}:
-- the log entries of revisions rev+1..upto in order (a written id, or a
-- removal: see `removal` in the prelude; none when no entry is a removal),
-- and the written ids, each once in first-write order, with their current
-- values.
local err = wrong_type({'hash', 'hash', 'list', 'list'})
if err then return err end
local m
m, err = live(ARGV[4])
if err then return err end
if not m then return {'none'} end
m.rev = revision(m)
local known = tonumber(ARGV[2])
if m.sid ~= ARGV[1] or known < m.base or known > m.rev then
  return {'whole', m.sid, m.rev, m.expiry}
end
if known == m.rev then return {'same', m.sid, m.rev, m.expiry} end
local upto = math.min(m.rev, known + tonumber(ARGV[3]))
local logged = redis.call('LRANGE', LOG, known - m.base, upto - m.base - 1)
local seen, ids, removals = {}, {}, false
for _, id in ipairs(logged) do
  if string.byte(id, 1) == 255 then
    removals = true
  elseif not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
local values = {}
if #ids > 0 then values = redis.call('HMGET', ASSETS, unpack(ids)) end
-- Without removals the ids in first-write order say it all.
if not removals then logged = {} end
return {'delta', m.sid, upto, m.expiry, logged, ids, values}
