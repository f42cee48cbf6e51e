package keyward

import (
	"context"
	"sync"
)

// The audit records of what succeeded are written inside the change's own unit of work (see
// Service.mutate): a change that happened always has its record, because if the record cannot
// be written the change is rolled back with it. What the store cannot take while it is away
// are the records written on their own: the failures (an operation refused, by the rules or
// by the outage itself, which is an attempt the log keeps like any other) and the refusals of
// keys over their limits. Those wait here, in memory and in order, and a job writes them
// once the store is back (Service.FlushAuditBacklog). The backlog is bounded: past
// AuditBacklogSize records an outage costs records, and the log says how many.

// AuditBacklogSize is the default bound on the audit records kept in memory while the store
// is unavailable (see WithAuditBacklog): about 4 MB at most.
const AuditBacklogSize = 10_000

// WithAuditBacklog bounds the audit records kept in memory while the store is unavailable
// (default AuditBacklogSize).
func WithAuditBacklog(size int) ServiceOption {
	return func(s *Service) { s.backlog = &auditBacklog{size: max(size, 1)} }
}

// auditBacklog is the records waiting for the store; shared by the copies a unit makes.
type auditBacklog struct {
	size   int
	mu     sync.Mutex
	events []*AuditEvent
	lost   int  // records dropped since the last report
	full   bool // the loss was reported as it began
}

// keep adds e to the backlog; it reports whether the backlog had room, and whether this is
// the first record lost since the last report (so that the loss is logged once as it begins,
// not once per record).
func (b *auditBacklog) keep(e *AuditEvent) (kept, firstLost bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) >= b.size {
		b.lost++
		firstLost = !b.full
		b.full = true
		return false, firstLost
	}
	b.events = append(b.events, e)
	return true, false
}

// AuditBacklog is how many audit records wait for the store, for metrics and tests.
func (s *Service) AuditBacklog() int {
	s.backlog.mu.Lock()
	defer s.backlog.mu.Unlock()
	return len(s.backlog.events)
}

// FlushAuditBacklog writes the audit records that waited for the store, oldest first, each
// with the id and time it was given when it happened, so that it takes its place in the log.
// It stops at the first outage and keeps the rest for the next run. A record the store
// already holds (its insert committed, its answer lost) is done; one refused for another
// reason is logged and dropped, so that it cannot hold up the rest forever. It returns how
// many it wrote, and logs at error how many were lost to a full backlog since the last run.
func (s *Service) FlushAuditBacklog(ctx context.Context) (int, error) {
	b := s.backlog
	b.mu.Lock()
	pending := b.events
	b.events = nil
	lost := b.lost
	b.lost, b.full = 0, false
	b.mu.Unlock()
	if lost > 0 {
		s.log.Error("audit: records were lost: the store was unavailable and the in-memory backlog was full",
			"lost", lost, "backlog_size", b.size)
	}
	written := 0
	for i, e := range pending {
		err := s.store.RecordAudit(ctx, e)
		switch {
		case err == nil, ErrorCode(err) == EConflict:
			written++
			continue
		case IsOutage(err) || ctx.Err() != nil:
			b.putBack(pending[i:])
			return written, err
		default:
			s.log.Error("audit: a record that waited for the store was refused by it; dropped",
				"action", e.Action, "id", e.ID, "err", err)
		}
	}
	if written > 0 {
		s.log.Info("audit: records that waited for the store are written", "written", written)
	}
	return written, nil
}

// putBack returns unwritten records to the front of the backlog, ahead of those that came
// in meanwhile, as far as the bound allows; the rest count as lost.
func (b *auditBacklog) putBack(events []*AuditEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := append(events, b.events...)
	if over := len(all) - b.size; over > 0 {
		b.lost += over
		all = all[:b.size]
	}
	b.events = all
}
