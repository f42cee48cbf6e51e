-- Take for one bucket, atomically: GCRA, the quota and the credit spend; see redis.go.
--
-- KEYS[1]  the rate hash: tat (Unix ns), qw (quota window index), qn (its count)
-- KEYS[2]  the credits hash: remaining, refilled_at (Unix µs), version
-- ARGV     interval_ns, tau_ns, quota_limit, quota_window_s, credits (0 or 1), cost,
--          remaining, refilled_at_us, version, refill_amount, refill_boundary_us
--          (the credits as the database knows them; the amount is 0 without a refill)
-- returns  rate_ok, quota_ok, ahead_ns, quota_count, window_left_ns, credits_ok,
--          credits_remaining
--
-- Now is Redis's time, so that nodes with skewed clocks agree. Lua's numbers are doubles,
-- exact only below 2^53: Unix µs fit, Unix ns do not. So the TAT is stored as a decimal
-- string and the arithmetic is done on its distance from now, which tau keeps below 2^53.
-- Numbers are written with %.0f, since Redis would print large ones in exponent form.
-- Nothing is written unless the request is allowed.

local time = redis.call('TIME')
local now_s = tonumber(time[1])
local now_us = now_s * 1000000 + tonumber(time[2])

local interval, tau = tonumber(ARGV[1]), tonumber(ARGV[2])
local quota_limit, quota_window = tonumber(ARGV[3]), tonumber(ARGV[4])

local state = redis.call('HMGET', KEYS[1], 'tat', 'qw', 'qn')
-- ahead: how far the TAT is ahead of now, in ns.
local ahead = 0
if state[1] then
  local tat = state[1]
  ahead = math.max((tonumber(string.sub(tat, 1, -4)) - now_us) * 1000 + tonumber(string.sub(tat, -3)), 0)
end
local rate_ok = ahead + interval <= tau

local window, count, window_left = 0, 0, 0
if quota_limit > 0 then
  window = math.floor(now_s / quota_window)
  if tonumber(state[2]) == window then
    count = tonumber(state[3])
  end
  window_left = ((window + 1) * quota_window * 1000000 - now_us) * 1000
end
local quota_ok = quota_limit == 0 or count < quota_limit
local allowed = rate_ok and quota_ok

local credits_ok, remaining = 0, 0
if ARGV[5] == '1' then
  local cost, amount, boundary = tonumber(ARGV[6]), tonumber(ARGV[10]), tonumber(ARGV[11])
  local credits = redis.call('HMGET', KEYS[2], 'remaining', 'refilled_at', 'version')
  local refilled, version = tonumber(credits[2]), tonumber(credits[3])
  remaining = tonumber(credits[1])
  local changed = false
  if not remaining or version < tonumber(ARGV[9]) then
    -- No copy yet, or the credits were set through the API since it was taken.
    remaining, refilled, version = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
    changed = true
  end
  if amount > 0 and boundary > refilled then
    remaining, refilled, changed = amount, boundary, true
  end
  if allowed and remaining >= cost then
    remaining, credits_ok = remaining - cost, 1
    changed = changed or cost > 0
  end
  if allowed and changed then
    redis.call('HSET', KEYS[2], 'remaining', string.format('%.0f', remaining),
      'refilled_at', string.format('%.0f', refilled), 'version', string.format('%.0f', version))
  end
end

if allowed then
  ahead = ahead + interval
  count = count + 1
  local tat_us = now_us + math.floor(ahead / 1000)
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f%03d', tat_us, ahead % 1000),
    'qw', string.format('%.0f', window), 'qn', string.format('%.0f', count))
  -- The bucket is as good as fresh once its TAT has passed and its quota window is over.
  local ttl_ms = math.max(math.ceil(math.max(ahead, window_left) / 1000000), 1000)
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
end

return {rate_ok and 1 or 0, quota_ok and 1 or 0, ahead, count, window_left, credits_ok, remaining}
