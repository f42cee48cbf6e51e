package verify

import (
	"context"
	"crypto/sha256"

	"github.com/keyward/keyward/internal/keyward"
)

// A credential may stand for a key without being its secret: an OAuth access token issued to
// the key. Such a credential is held to the key's rate limit and spends its credits as the key
// would, so that exchanging a key for a token is no way around either. LimitKey does that; its
// cache of keys by id lives beside the cache by hash, and is invalidated with it.

// idSum is the byID cache's key for a key id. The id is public; the hash only fits it to the
// cache's fixed-size keys.
func idSum(id string) [32]byte { return sha256.Sum256([]byte("key-id:" + id)) }

// LimitKey holds the account's key with the id to its rate limit and spends its credits (cost
// as in Requirements), and counts the verification in the key's usage. It does not check the
// key itself: the caller has verified a credential issued to it (an access token, which the
// key's revocation ends through the token deny-list). The code is VALID, RATE_LIMITED or
// USAGE_EXCEEDED, or NOT_FOUND when no such key exists. The error is non-nil only when the
// store could not be read or the credits could not be spent.
func (v *Verifier) LimitKey(ctx context.Context, accountID, keyID string, cost *int64) (Result, error) {
	now := v.now()
	sum := idSum(keyID)
	snap, ok := v.byID.get(sum, now)
	if !ok {
		gen := v.byID.generation()
		k, err := v.store.Key(ctx, accountID, keyID)
		if keyward.ErrorCode(err) == keyward.ENotFound {
			v.stats.outcome(keyward.VerifyNotFound)
			return Result{Code: keyward.VerifyNotFound}, nil
		}
		if err != nil {
			return Result{}, err
		}
		if snap, err = v.snapshotOf(ctx, k, sum); err != nil {
			return Result{}, err
		}
		v.byID.putIfGen(sum, snap, now, gen)
	}
	res := Result{Key: snap.key, Identity: snap.identity, Code: keyward.VerifyValid}
	if err := v.limit(ctx, snap, cost, now, &res); err != nil {
		return Result{}, err
	}
	res.Valid = res.Code == keyward.VerifyValid
	v.uses.record(snap, res.Code, now)
	v.stats.outcome(res.Code)
	return res, nil
}
