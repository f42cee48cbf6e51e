package keyward

import (
	"context"
	"time"
)

// SchedulerPrincipal is who acts in a scheduled job on an account's keys: Keyward itself,
// holding everything in the account, recorded in the audit log as "scheduler".
func SchedulerPrincipal(accountID string) Principal {
	return Principal{AccountID: accountID, Kind: KindSystem, ID: SchedulerID, Permissions: Permissions{"*", "system.*"}}
}

// SchedulerID is the actor id of scheduled jobs in the audit log.
const SchedulerID = "scheduler"

// jobBatch bounds the keys one run of a scheduled job reads at a time, and jobRounds the
// batches in one run: a backlog is worked off over several runs rather than in one long one.
const (
	jobBatch  = 100
	jobRounds = 50
)

// RotateDueKeys acts on every key whose next_rotation_at has passed, once each, and returns
// how many it rotated and how many it notified:
//
//   - a key with a rotation_webhook_url is rotated, as the scheduler, with its own grace
//     (rotation_grace_seconds, DefaultRotationGrace by default). The new key's secret is
//     sealed into an outbox message to that webhook in the same unit of work, so it leaves
//     Keyward only through the webhook, and the rotation and its message commit together;
//   - a key without one is not rotated: its account's endpoints get api_key.rotation_due,
//     and its next_rotation_at moves one interval on.
//
// Either way the next rotation is one interval from now, not from when it was due, so a node
// that was down for days catches up once rather than once per missed interval. Two nodes
// running the job at once rotate each key once: the second finds it replaced.
func (s *Service) RotateDueKeys(ctx context.Context) (rotated, notified int, err error) {
	for range jobRounds {
		due, err := s.store.DueRotations(ctx, s.Now(), jobBatch)
		if err != nil {
			return rotated, notified, err
		}
		for _, k := range due {
			r, n, err := s.rotateDue(ctx, k)
			if err != nil {
				return rotated, notified, err
			}
			rotated, notified = rotated+r, notified+n
		}
		if len(due) < jobBatch {
			break
		}
	}
	return rotated, notified, nil
}

func (s *Service) rotateDue(ctx context.Context, due *Key) (rotated, notified int, err error) {
	p := SchedulerPrincipal(due.AccountID)
	if due.RotationWebhookURL == "" {
		err = s.mutate(ctx, p, ActionRotationDue, TargetKey, due.ID, func(tx *Service, _ *AuditEvent) error {
			k, err := tx.stillDue(ctx, due)
			if err != nil {
				return err
			}
			k.NextRotationAt = NextRotation(tx.Now(), k.RotationIntervalDays)
			if err := tx.store.UpdateKey(ctx, k); err != nil {
				return err
			}
			return tx.emitKey(ctx, TopicKeyRotationDue, k)
		})
		if err != nil {
			return 0, 0, err
		}
		return 0, 1, nil
	}
	err = s.mutate(ctx, p, ActionRotateKey, TargetKey, due.ID, func(tx *Service, _ *AuditEvent) error {
		k, err := tx.stillDue(ctx, due)
		if err != nil {
			return err
		}
		grace := DefaultRotationGrace
		if k.RotationGrace != nil {
			grace = *k.RotationGrace
		}
		r, err := tx.rotateKey(ctx, p, k.ID, RotateKeyInput{GracePeriod: grace})
		if err != nil {
			return err
		}
		return tx.sendRotationSecret(ctx, r)
	})
	if err != nil {
		return 0, 0, err
	}
	return 1, 0, nil
}

// stillDue reads the key again inside the unit: another node may have acted on it since it
// was listed, and then there is nothing to do.
func (s *Service) stillDue(ctx context.Context, listed *Key) (*Key, error) {
	k, err := s.store.Key(ctx, listed.AccountID, listed.ID)
	if ErrorCode(err) == ENotFound {
		return nil, errNothingToDo
	}
	if err != nil {
		return nil, err
	}
	if k.RevokedAt != nil || k.ReplacedByKeyID != "" || k.NextRotationAt == nil || k.NextRotationAt.After(s.Now()) {
		return nil, errNothingToDo
	}
	return k, nil
}

// sendRotationSecret writes the message that carries a scheduled rotation's new secret to
// the key's rotation webhook: the payload without the secret, the secret sealed beside it for
// the deliverer to put in at send time and the store to erase once the message is done.
func (s *Service) sendRotationSecret(ctx context.Context, r *Rotation) error {
	if s.encode == nil {
		return Errorf(EUnavailable, "webhooks are not configured on this server")
	}
	ev := &Event{ID: NewMessageID(), Topic: TopicKeyRotated, AccountID: r.New.AccountID, At: s.Now(), Key: r.New, Replaced: r.Old}
	body, err := s.encode(ev)
	if err != nil {
		return Errorf(EInternal, "encoding the rotation: %v", err)
	}
	sealed, err := s.SealOutbox(ev.ID, r.Secret)
	if err != nil {
		return err
	}
	return s.store.EnqueueOutbox(ctx, &OutboxMessage{
		ID: ev.ID, AccountID: ev.AccountID, Topic: ev.Topic, Destination: KeyDestination(r.New.ID),
		OrderKey: r.New.LineageID, Payload: body, Sealed: sealed, CreatedAt: ev.At,
	})
}

// NotifyExpiringKeys sends api_key.expiring once for every key whose expiry or grace end
// falls within notice from now, and returns how many it sent.
func (s *Service) NotifyExpiringKeys(ctx context.Context, notice time.Duration) (int, error) {
	sent := 0
	for range jobRounds {
		now := s.Now()
		keys, err := s.store.ExpiringKeys(ctx, now, now.Add(notice), jobBatch)
		if err != nil {
			return sent, err
		}
		for _, k := range keys {
			ok, err := s.notifyOnce(ctx, k, NoticeExpiring, func(tx *Service) error {
				end := k.EffectiveExpiry()
				return tx.emit(ctx, &Event{Topic: TopicKeyExpiring, AccountID: k.AccountID, Key: k, Expiry: end}, k.LineageID)
			})
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(keys) < jobBatch {
			break
		}
	}
	return sent, nil
}

// KeyExhausted sends api_key.usage_exceeded the first time a key is refused for want of
// credits (until its credits are set again); the verifier calls it. It reports whether this
// call sent it.
func (s *Service) KeyExhausted(ctx context.Context, accountID, keyID string) (bool, error) {
	k, err := s.store.Key(ctx, accountID, keyID)
	if err != nil {
		return false, err
	}
	if k.ExhaustedAt != nil {
		return false, nil
	}
	return s.notifyOnce(ctx, k, NoticeExhausted, func(tx *Service) error {
		return tx.emitKey(ctx, TopicKeyExhausted, k)
	})
}

// notifyOnce marks the notice on k and, if this call was the one to mark it, runs emit in the
// same unit of work: of several nodes noticing at once, one tells.
func (s *Service) notifyOnce(ctx context.Context, k *Key, n KeyNotice, emit func(tx *Service) error) (bool, error) {
	sent := false
	err := s.store.InTx(ctx, func(txStore Store) error {
		tx := s.within(txStore)
		sent = false
		marked, err := tx.store.MarkKeyNotice(ctx, k.AccountID, k.ID, n, tx.Now())
		if err != nil || !marked {
			return err
		}
		sent = true
		return emit(tx)
	})
	return sent && err == nil, err
}
