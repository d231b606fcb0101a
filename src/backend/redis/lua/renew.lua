-- renew(token, lease_ms): extends the lease of claim KEYS[1] if this claimer
-- still holds it. Returns 1 when extended, 0 when the claim was lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
