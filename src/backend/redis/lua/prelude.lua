-- asset-cache on Redis: what every script shares. The key layout and the
-- meaning of each field are documented in src/backend/redis/keys.rs.
-- KEYS[1] meta (hash), KEYS[2] assets (hash), KEYS[3] order (list),
-- KEYS[4] log (list); commit.lua adds KEYS[5], KEYS[6] (the staged store).
local META, ASSETS, ORDER, LOG = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- Scripts are atomic but not transactional: a command that fails half-way
-- leaves the earlier writes in place. So every script checks the type of
-- every key it touches before its first write, and refuses (with the key's
-- name) to overwrite a value that is not ours.
local function refuse(key, holds, want)
  return redis.error_reply('WRONGTYPE key "' .. key .. '" holds a ' .. holds ..
    ', where asset-cache keeps a ' .. want .. '; remove it or use another cache name')
end

-- The refusal of a write `reply` (an error table from redis.pcall) to
-- `key`: a key of another type, by name, or else the server's own error as
-- it is (out of memory under maxmemory, a read-only replica...), which a
-- wrong-type message would misname.
local function failed(key, reply, want)
  local holds = redis.call('TYPE', key)['ok']
  if holds ~= 'none' and holds ~= want then return refuse(key, holds, want) end
  return reply
end

-- `want` lists the type expected of each key, in KEYS order; '' skips one.
local function wrong_type(want)
  for i, w in ipairs(want) do
    if w ~= '' then
      local t = redis.call('TYPE', KEYS[i])['ok']
      if t ~= 'none' and t ~= w then return refuse(KEYS[i], t, w) end
    end
  end
  return nil
end

-- The live store's meta, or nil when there is none or it has expired at
-- `now` (the Python original's rule: expired when expiry < now). `now` and
-- every expiry are the calling host's clock, as with the file backend: the
-- server's clock decides nothing but when Redis frees an expired store.
-- Second result: an error reply when META is not a hash, or holds fields
-- that asset-cache did not write (an empty store id, a revision or expiry
-- that is not a number): read as they are, they would make a reader catch up
-- forever or a write fail half-way.
local function live(now)
  local m = redis.pcall('HMGET', META, 'sid', 'expiry', 'base', 'cut')
  if m['err'] then return nil, refuse(META, redis.call('TYPE', META)['ok'], 'hash') end
  if not m[1] then return nil end
  local expiry, base, cut = tonumber(m[2]), tonumber(m[3]), 0
  if m[4] then cut = tonumber(m[4]) end
  local bad = nil
  if m[1] == '' then bad = 'an empty sid'
  elseif expiry == nil or expiry ~= expiry then bad = 'an expiry that is not a number'
  elseif base == nil or base < 0 or base ~= math.floor(base) then bad = 'a base that is not a revision'
  elseif cut == nil or cut < 0 then bad = 'a cut that is not a revision'
  end
  if bad then
    return nil, redis.error_reply('ERR asset-cache: key "' .. META .. '" holds ' .. bad ..
      ', which asset-cache does not write; invalidate the cache or remove the key')
  end
  if expiry < tonumber(now) then return nil end
  return {sid = m[1], expiry = m[2], base = base, cut = cut}
end

-- The store's revision: writes since it started, which is the log's base
-- plus its length (the log holds one id per write since the base).
local function revision(m)
  return m.base + redis.call('LLEN', LOG)
end

-- A log entry that records the removal of `id` (remove, the size cap, or
-- the first half of a move to the newest place): a byte that no id (valid
-- UTF-8) starts with, then the id. Every other entry is a written id.
local function removal(id)
  return '\255' .. id
end

-- The revision once the log holds `logged` entries. The log only serves
-- readers catching up: keep its last `keep` entries once it holds twice
-- that (a reader further behind reloads the store).
-- log_entries appends `entries` to the log (one revision each) and returns
-- the new revision. `cut`: the entries remove ids, which shifts positions
-- in the order list under a whole load in slices (chunk.lua then starts
-- again).
local function trim_log(m, logged, keep)
  local rev = m.base + logged
  if logged > 2 * keep then
    redis.call('LTRIM', LOG, logged - keep, -1)
    redis.call('HSET', META, 'base', rev - keep)
  end
  return rev
end

local function log_entries(m, entries, keep, cut)
  -- In slices: Lua's unpack fails past about 8,000 values ("too many results
  -- to unpack"), which a cap lowered under a large store reaches, and a
  -- script that fails there has already dropped the ids.
  local logged
  for i = 1, #entries, 1000 do
    logged = redis.call('RPUSH', LOG, unpack(entries, i, math.min(i + 999, #entries)))
  end
  local rev = trim_log(m, logged, keep)
  if cut then redis.call('HSET', META, 'cut', rev) end
  return rev
end

-- Lets Redis free an expired store by itself, a minute after its expiry
-- (room for hosts' clocks to differ; until then `live` treats it as gone).
local function expire_at(expiry)
  local at = math.floor(tonumber(expiry) * 1000) + 60000
  for i = 1, 4 do redis.call('PEXPIREAT', KEYS[i], at) end
end

-- The meta of a new store: a fresh store id, revision 0 (an empty log). The
-- caller has removed (or replaced) the old store's keys.
local function start_store(sid, expiry)
  local m = {sid = sid, expiry = expiry, base = 0, cut = 0}
  redis.call('HSET', META, 'sid', m.sid, 'expiry', m.expiry, 'base', 0)
  return m
end
