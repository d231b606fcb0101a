-- invalidate(): deletes the store (every key of it, in one step).
local err = wrong_type({'hash', 'hash', 'list', 'list'})
if err then return err end
redis.call('UNLINK', META, ASSETS, ORDER, LOG)
return 1
