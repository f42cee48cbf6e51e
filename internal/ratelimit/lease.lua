-- Lease cells of one bucket without a quota or credits, atomically: give back the unspent
-- cells of an earlier lease, then reserve up to `want` cells at once; see lease.go.
--
-- KEYS[1]  the rate hash: tat (Unix ns), as take.lua keeps it
-- ARGV     interval_ns, tau_ns, want, give
-- returns  granted, ahead_ns
--
-- Granting n cells is n Takes in a row: each moves the TAT on by one interval while the TAT
-- stays within tau of now, so that a lease never holds a cell GCRA would refuse; and n is at
-- most a quarter of the cells left. Giving back
-- k cells moves the TAT back by k intervals, never below now: cells whose time has passed
-- would have come back by themselves. With nothing granted ahead is what Take would answer a
-- refusal with. Now is Redis's time, and the TAT's arithmetic is take.lua's: on its distance
-- from now, which tau keeps below 2^53. Nothing is written unless the TAT moves.

local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])

local interval, tau = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, give = tonumber(ARGV[3]), tonumber(ARGV[4])

local tat = redis.call('HGET', KEYS[1], 'tat')
local ahead = 0
if tat then
  ahead = math.max((tonumber(string.sub(tat, 1, -4)) - now_us) * 1000 + tonumber(string.sub(tat, -3)), 0)
end
local before = ahead

if give > 0 then
  ahead = math.max(ahead - give * interval, 0)
end
local granted = 0
if want > 0 and ahead + interval <= tau then
  -- At most a quarter of the cells the bucket has left (and at least one): a bucket near
  -- full leases generously, one near empty a cell at a time, so that what one node holds
  -- is never much of what the others could have had.
  granted = math.min(math.max(math.floor((tau - ahead) / interval / 4), 1), want)
  ahead = ahead + granted * interval
end

if ahead ~= before then
  local tat_us = now_us + math.floor(ahead / 1000)
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f%03d', tat_us, ahead % 1000))
  -- The bucket is as good as fresh once its TAT has passed; a quota window that take.lua
  -- counts in the same hash may need it longer, so the expiry is only ever extended.
  local ttl_ms = math.max(math.ceil(ahead / 1000000), 1000)
  if redis.call('PTTL', KEYS[1]) < ttl_ms then
    redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
  end
end

return {granted, ahead}
