package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/ratelimit"
)

// limits are the parts of a running server that hold keys to their rate limits: the limiter,
// in memory, or Redis shared by every node.
type limits struct {
	limiter ratelimit.Limiter
	memory  *ratelimit.Memory
	redis   *redis.Client
}

// startLimits builds the rate limiter the configuration asks for.
// With Redis, the first ping must answer: a node that starts with Redis misconfigured would
// otherwise apply every tier's fail mode from its first request.
func (m *Main) startLimits(ctx context.Context) error {
	l := &limits{}
	m.limits = l
	switch {
	case m.Config.RateLimits == "off":
	case m.Config.Redis != "":
		opts, err := redis.ParseURL(m.Config.Redis)
		if err != nil {
			return fmt.Errorf("redis: the URL does not parse") // it may hold a password: not quoted
		}
		// Without this go-redis ignores a context's deadline on the socket, and a verification
		// could wait on a Redis that accepts connections but never answers.
		opts.ContextTimeoutEnabled = true
		l.redis = redis.NewClient(opts)
		r := ratelimit.NewRedis(l.redis, ratelimit.RedisOptions{})
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := l.redis.Ping(pctx).Err(); err != nil {
			return fmt.Errorf("redis at %s: %w", opts.Addr, err)
		}
		l.limiter = r
		m.log.Info("rate limits and usage credits are kept in Redis", "addr", opts.Addr)
	default:
		l.memory = ratelimit.NewMemory()
		l.limiter = l.memory
	}
	return nil
}

// stopLimits releases the limiter. The verifier must be closed first: its last flush may
// still spend credits.
func (m *Main) stopLimits() {
	l := m.limits
	if l == nil {
		return
	}
	if l.memory != nil {
		l.memory.Close()
	}
	if l.redis != nil {
		l.redis.Close()
	}
	m.limits = nil
}
