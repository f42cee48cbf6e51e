package keyward

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// Service carries out management requests: it validates input, applies the rules, and
// writes through a Store. Callers have already authenticated the principal; the service
// scopes every read and write to the principal's account.
//
// Every operation that changes something is one unit of work (see mutate): its writes, the
// audit record of its success and the outbox messages it causes commit together or not at
// all, and the caches hear of the change only once it has committed.
type Service struct {
	store      Store
	res        *Resolver
	hasher     *keyformat.Hasher
	now        func() time.Time
	events     KeyEvents
	identities IdentityEvents
	log        *slog.Logger
	// checkpoint, when set, is called between the writes of an operation with the point's
	// name, so that a test can stop the process there (see WithCheckpoint).
	checkpoint func(point string)
	refusals   *refusalThrottle // shared by the copies a unit of work makes
	backlog    *auditBacklog    // likewise
	// encode, sealer and checkURL serve webhooks (see WithEventEncoder, WithSealer,
	// WithURLCheck).
	encode   EventEncoder
	sealer   Sealer
	checkURL func(raw string) error

	// pending is set on the copy of the service that runs inside a unit of work: the cache
	// events the unit's writes call for, fired once it commits.
	pending *pendingEvents
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithClock replaces time.Now, so that tests can move time (grace periods, expiry).
func WithClock(now func() time.Time) ServiceOption { return func(s *Service) { s.now = now } }

// WithKeyEvents tells ev of every key change that affects verification.
func WithKeyEvents(ev KeyEvents) ServiceOption { return func(s *Service) { s.events = ev } }

// WithIdentityEvents tells ev of every change to users, roles and memberships, which may
// change what keys stand for.
func WithIdentityEvents(ev IdentityEvents) ServiceOption {
	return func(s *Service) { s.identities = ev }
}

// WithLogger sets where the service reports what it cannot return to a caller: an audit
// record of a refusal that could not be written (default slog.Default()).
func WithLogger(l *slog.Logger) ServiceOption { return func(s *Service) { s.log = l } }

// WithCheckpoint calls fn between the writes of multi-write operations, with the name of the
// point reached ("update-api-key:key-written"). It exists for crash tests, which stop the
// process there and check that the store holds all of the operation or none of it.
func WithCheckpoint(fn func(point string)) ServiceOption {
	return func(s *Service) { s.checkpoint = fn }
}

// WithResolver shares a Resolver the caller built over the same store (the verifier's), so
// that both resolve alike; by default the service makes its own.
func WithResolver(r *Resolver) ServiceOption { return func(s *Service) { s.res = r } }

// NewService returns a Service over store, hashing secrets with hasher.
func NewService(store Store, hasher *keyformat.Hasher, opts ...ServiceOption) *Service {
	s := &Service{store: store, hasher: hasher, now: time.Now, refusals: &refusalThrottle{}, backlog: &auditBacklog{size: AuditBacklogSize}}
	for _, o := range opts {
		o(s)
	}
	if s.res == nil {
		s.res = NewResolver(store)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Now is the service's clock, in UTC at the microsecond precision every store keeps.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Resolver returns the service's resolver of identities and limits.
func (s *Service) Resolver() *Resolver { return s.res }

// within returns a copy of s whose reads and writes go through tx, a unit of work, and
// whose cache events wait for the unit to commit.
func (s *Service) within(tx Store) *Service {
	c := *s
	c.store = tx
	c.res = NewResolver(tx)
	c.pending = &pendingEvents{}
	return &c
}

// mutate runs fn as one audited unit of work for p. fn gets a copy of the service whose every
// read and write goes through the unit, and the audit event, whose target it fills in once
// it knows it. The success is recorded inside the unit, so that a change is never without
// its record; a failure is recorded on its own after the unit rolled back, so that refused
// attempts are kept too. Cache events fn caused fire after the commit. On PostgreSQL fn may
// run more than once (see Store.InTx): it must keep its effects in tx.
func (s *Service) mutate(ctx context.Context, p Principal, action, targetType, targetID string, fn func(tx *Service, e *AuditEvent) error) error {
	if s.pending != nil {
		// Already inside a unit (an operation that builds on another): join it.
		e := s.auditEvent(ctx, p, action, targetType, targetID)
		if err := fn(s, e); err != nil {
			return err
		}
		return s.record(ctx, e, nil)
	}
	var (
		pending *pendingEvents
		event   *AuditEvent
	)
	err := s.store.InTx(ctx, func(txStore Store) error {
		tx := s.within(txStore)
		pending = tx.pending
		event = s.auditEvent(ctx, p, action, targetType, targetID)
		if err := fn(tx, event); err != nil {
			return err
		}
		return tx.record(ctx, event, nil)
	})
	if errors.Is(err, errNothingToDo) {
		return nil // another node did it first: nothing happened here, nothing to record
	}
	if err != nil {
		if event == nil { // the unit never started
			event = s.auditEvent(ctx, p, action, targetType, targetID)
		}
		s.recordFailure(ctx, event, err)
		return err
	}
	pending.fire(ctx, s)
	return nil
}

// errNothingToDo ends a unit of work of Keyward's own (a scheduled job) that found its work
// already done: the unit rolls back, and mutate records and reports nothing.
var errNothingToDo = errors.New("nothing to do")

// step marks a point between two writes of an operation, for crash tests.
func (s *Service) step(point string) {
	if s.checkpoint != nil {
		s.checkpoint(point)
	}
}

// pendingEvents are the cache events of a unit of work, fired once it commits: a cache told
// before could read the old row again and keep it.
type pendingEvents struct {
	keys     []*Key
	accounts []string
	imported bool
}

// ImportEvents hears that keys were imported, so that a verifier finds them at once.
type ImportEvents interface {
	KeysImported(ctx context.Context)
}

func (pe *pendingEvents) fire(ctx context.Context, s *Service) {
	for _, k := range pe.keys {
		if s.events != nil {
			s.events.KeyChanged(ctx, k)
		}
	}
	for _, a := range pe.accounts {
		if s.identities != nil {
			s.identities.IdentityChanged(ctx, a)
		}
	}
	if ie, ok := s.events.(ImportEvents); ok && pe.imported {
		ie.KeysImported(ctx)
	}
}

// changed says that k changed in a way verification must see.
func (s *Service) changed(ctx context.Context, k *Key) {
	if s.pending != nil {
		s.pending.keys = append(s.pending.keys, k)
		return
	}
	if s.events != nil {
		s.events.KeyChanged(ctx, k)
	}
}

// identityChanged says that what keys of the account stand for may have changed.
func (s *Service) identityChanged(ctx context.Context, accountID string) {
	if s.pending != nil {
		s.pending.accounts = append(s.pending.accounts, accountID)
		return
	}
	if s.identities != nil {
		s.identities.IdentityChanged(ctx, accountID)
	}
}

// Page is a cursor position and size for list calls.
type Page struct {
	After string // the last id of the previous page; "" for the first
	Limit int
}

// Default and maximum page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

func (p Page) limit() int {
	if p.Limit <= 0 {
		return DefaultPageSize
	}
	return min(p.Limit, MaxPageSize)
}

// page trims a result fetched with one extra row to the page size and reports the id to
// continue after, or "" when this was the last page.
func page[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// Ping checks that the store answers, for readiness probes.
func (s *Service) Ping(ctx context.Context) error {
	_, err := s.store.CountAdminKeys(ctx)
	return err
}
