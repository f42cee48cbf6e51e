package keyward

import (
	"context"
	"time"
)

// OutboxMessage is something that must leave Keyward (a webhook call), written in the same
// unit of work as the change it reports, so that the change and its message commit together,
// and delivered afterwards, at least once, by whichever node claims it.
type OutboxMessage struct {
	ID        string
	AccountID string
	// Topic names what happened, as "api_key.rotated".
	Topic string
	// Destination says where the message goes, in the deliverer's terms (a webhook
	// endpoint's id, a key's rotation webhook).
	Destination string
	// OrderKey orders delivery: of the messages with one Destination and OrderKey, only the
	// oldest undelivered one (by ID, which is time-ordered) is handed out, so that one key's
	// events reach an endpoint in the order they happened. "" orders nothing.
	OrderKey string
	// Payload is the message body, as it will be sent.
	Payload []byte
	// Sealed is secret material that goes with the payload (a rotated key's new secret),
	// encrypted under the server secret by the caller; the store erases it once the message
	// is delivered or abandoned. nil when there is none.
	Sealed    []byte
	CreatedAt time.Time

	// Delivery state, kept by the store.
	Attempts      int
	NextAttemptAt time.Time
	// LeaseOwner holds the message until LeaseUntil; "" when no one does.
	LeaseOwner  string
	LeaseUntil  *time.Time
	DeliveredAt *time.Time
	// AbandonedAt is when delivery was given up (retries exhausted, endpoint gone).
	AbandonedAt *time.Time
	// LastError says why the last attempt failed; "" after a success.
	LastError string
}

// Pending reports whether the message still waits to be delivered.
func (m *OutboxMessage) Pending() bool { return m.DeliveredAt == nil && m.AbandonedAt == nil }

// OutboxAttempt is one try at delivering a message.
type OutboxAttempt struct {
	MessageID string
	// Attempt counts from 1.
	Attempt  int
	At       time.Time
	Duration time.Duration
	// StatusCode is the HTTP status the destination answered; 0 when it did not answer.
	StatusCode int
	// Error says what went wrong; "" for a success.
	Error string
}

// OutboxOutcome is what an attempt leaves a message as.
type OutboxOutcome struct {
	// Delivered: the message is done.
	Delivered bool
	// Abandon: delivery is given up for good.
	Abandon bool
	// RetryAt is when to try again, when neither Delivered nor Abandon.
	RetryAt time.Time
}

// Validate refuses an outcome that says two things, or a retry at no time (which would be due
// at once, again and again). Errors: EValidation.
func (o OutboxOutcome) Validate() error {
	if o.Delivered && o.Abandon {
		return Errorf(EValidation, "an outbox message is either delivered or abandoned, not both")
	}
	if !o.Delivered && !o.Abandon && o.RetryAt.IsZero() {
		return Errorf(EValidation, "an outbox retry needs a time")
	}
	return nil
}

// ValidateOutboxClaim refuses a claim that would lease messages to no one, or for no time: a
// message leased until now is free again at once. Errors: EValidation.
func ValidateOutboxClaim(owner string, lease time.Duration) error {
	if owner == "" {
		return Errorf(EValidation, "an outbox claim needs an owner")
	}
	if lease <= 0 {
		return Errorf(EValidation, "an outbox claim needs a lease longer than zero, not %v", lease)
	}
	return nil
}

// OutboxNotHeld is the error of finishing a message the owner does not hold.
func OutboxNotHeld(id string) error {
	return Errorf(EConflict,
		"outbox message %s is not held by this owner: its lease ran out and another claimed it, or it was finished or requeued", id)
}

// OutboxFilter selects outbox messages. Empty fields do not filter.
type OutboxFilter struct {
	AccountID   string // required
	Destination string
	OrderKey    string
	// Pending selects messages still waiting to be delivered.
	Pending bool
	// Before returns messages with id < Before: they are listed newest first.
	Before string
	Limit  int
}

// OutboxStore keeps the outbox: messages written with the changes they report, and every
// attempt to deliver them.
type OutboxStore interface {
	// EnqueueOutbox inserts msgs, due at once (their NextAttemptAt, or their CreatedAt when
	// it is zero). Call it in the unit of work of the change the messages report.
	// EConflict if an id is taken.
	EnqueueOutbox(ctx context.Context, msgs ...*OutboxMessage) error
	// ClaimOutbox leases to owner, until now+lease, up to limit pending messages that are
	// due at now and not leased to anyone else (or whose lease has run out), each the oldest
	// pending message of its Destination and OrderKey, and returns them oldest first with
	// Attempts already counting this one. Of any number of concurrent claims, no two get
	// one message.
	ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// FinishOutbox records attempt a of a message that owner holds and moves the message on
	// as out says, releasing the lease, in one step: delivered or abandoned messages lose
	// their Sealed material. EConflict if owner no longer holds the message (its lease ran
	// out and another claimed it); ENotFound if there is no such message.
	FinishOutbox(ctx context.Context, owner string, a *OutboxAttempt, out OutboxOutcome) error
	// OutboxMessage returns one of the account's messages; ENotFound if absent.
	OutboxMessage(ctx context.Context, accountID, id string) (*OutboxMessage, error)
	// ListOutbox returns up to f.Limit messages matching f, newest (highest id) first.
	ListOutbox(ctx context.Context, f OutboxFilter) ([]*OutboxMessage, error)
	// OutboxAttempts returns the attempts at one of the account's messages, oldest first.
	OutboxAttempts(ctx context.Context, accountID, messageID string) ([]*OutboxAttempt, error)
	// RetryOutbox makes one of the account's messages pending and due at at again (a manual
	// resend; a delivered or abandoned message too), releasing any lease. ENotFound if absent.
	RetryOutbox(ctx context.Context, accountID, id string, at time.Time) error
	// PruneOutbox deletes delivered and abandoned messages (and their attempts) created
	// before before, and returns how many messages went.
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
}
