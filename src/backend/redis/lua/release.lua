-- release(token): deletes the claim KEYS[1] if this claimer still holds it
-- (compare-and-delete: a claim whose lease ran out and that another took is
-- not ours to delete). Returns 1 when deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
