-- stage(ttl_ms, id, json, id, json...): one slice of a store that add_list
-- builds under keys of its own (KEYS[1] hash, KEYS[2] list) before commit.lua
-- swaps it in. The last of equal ids wins, at the place of the first, as in
-- a Python dict. The staged keys expire after ttl_ms, so a writer that dies
-- half-way leaves nothing behind for long. Returns the staged count.
local err = wrong_type({'hash', 'list'})
if err then return err end
for i = 2, #ARGV, 2 do
  if redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('HLEN', KEYS[1])
