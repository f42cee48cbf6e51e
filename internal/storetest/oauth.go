package storetest

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// generation returns a signing-key generation no other subtest sharing the store uses.
func generation(t *testing.T) int64 {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("rand.Read: %v", err)
	}
	return int64(binary.BigEndian.Uint64(b[:])>>2) + 1
}

func signingKeyIn(t *testing.T, gen int64, publishFor time.Duration) *keyward.SigningKey {
	t.Helper()
	return &keyward.SigningKey{
		ID:            keyward.NewID(),
		Generation:    gen,
		Algorithm:     "EdDSA",
		PublicJWK:     []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`),
		PrivateKey:    randomHash(t),
		SecretVersion: 1,
		CreatedAt:     base,
		NotBefore:     base.Add(time.Minute),
		SignUntil:     base.Add(time.Hour),
		PublishUntil:  base.Add(publishFor),
	}
}

// ownSigningKeys keeps, of the keys listed, those with the ids given.
func ownSigningKeys(keys []*keyward.SigningKey, ids ...string) []*keyward.SigningKey {
	return slices.DeleteFunc(keys, func(k *keyward.SigningKey) bool { return !slices.Contains(ids, k.ID) })
}

func testSigningKeyRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	gen := generation(t)
	older, newer := signingKeyIn(t, gen, 2*time.Hour), signingKeyIn(t, gen+1, 3*time.Hour)
	for _, k := range []*keyward.SigningKey{newer, older} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatalf("CreateSigningKey: %v", err)
		}
	}
	got, err := s.SigningKeys(ctx, base)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	wantSame(t, "SigningKeys, by generation", ownSigningKeys(got, older.ID, newer.ID), []*keyward.SigningKey{older, newer})
	for _, k := range got {
		if k.CreatedAt.Location() != time.UTC || k.PublishUntil.Location() != time.UTC {
			t.Errorf("SigningKeys: times %v, %v, want UTC", k.CreatedAt, k.PublishUntil)
		}
	}
	// A key is listed until its publication ends, and not from then on.
	got, err = s.SigningKeys(ctx, older.PublishUntil)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	wantSame(t, "SigningKeys once the older is unpublished", ownSigningKeys(got, older.ID, newer.ID), []*keyward.SigningKey{newer})
	// As of the zero time every key is listed, unpublished ones too: migrate-store copies them so.
	got, err = s.SigningKeys(ctx, time.Time{})
	if err != nil {
		t.Fatalf("SigningKeys at the zero time: %v", err)
	}
	wantSame(t, "SigningKeys at the zero time", ownSigningKeys(got, older.ID, newer.ID), []*keyward.SigningKey{older, newer})
}

func testSigningKeyGenerationTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	gen := generation(t)
	first := signingKeyIn(t, gen, time.Hour)
	if err := s.CreateSigningKey(ctx, first); err != nil {
		t.Fatalf("CreateSigningKey: %v", err)
	}
	wantCode(t, "CreateSigningKey with a taken generation", s.CreateSigningKey(ctx, signingKeyIn(t, gen, time.Hour)), keyward.EConflict)
	again := signingKeyIn(t, gen+1, time.Hour)
	again.ID = first.ID
	wantCode(t, "CreateSigningKey with a taken id", s.CreateSigningKey(ctx, again), keyward.EConflict)

	// Two nodes rotating at once: exactly one creates the next generation.
	var (
		wg   sync.WaitGroup
		errs = make([]error, 8)
	)
	for i := range errs {
		wg.Go(func() { errs[i] = s.CreateSigningKey(ctx, signingKeyIn(t, gen+2, time.Hour)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch keyward.ErrorCode(err) {
		case "":
			won++
		case keyward.EConflict:
		default:
			t.Errorf("concurrent CreateSigningKey: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("concurrent CreateSigningKey of one generation: %d succeeded, want 1", won)
	}
}

func testTokenDenials(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	start, err := s.TokenDenials(ctx, 0, now, 1_000_000)
	if err != nil {
		t.Fatalf("TokenDenials: %v", err)
	}
	var last int64
	if len(start) > 0 {
		last = start[len(start)-1].ID
	}
	jti := &keyward.TokenDenial{TokenID: keyward.NewID(), From: now, ExpiresAt: now.Add(time.Hour)}
	key := &keyward.TokenDenial{KeyID: keyward.NewID(), From: now.Add(time.Minute), ExpiresAt: now.Add(2 * time.Hour)}
	gone := &keyward.TokenDenial{TokenID: keyward.NewID(), From: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	for _, d := range []*keyward.TokenDenial{jti, key, gone} {
		if err := s.DenyTokens(ctx, d); err != nil {
			t.Fatalf("DenyTokens: %v", err)
		}
	}
	if !(last < jti.ID && jti.ID < key.ID && key.ID < gone.ID) {
		t.Errorf("DenyTokens ids: %d, %d, %d after %d, want increasing", jti.ID, key.ID, gone.ID, last)
	}
	got, err := s.TokenDenials(ctx, last, now, 100)
	if err != nil {
		t.Fatalf("TokenDenials: %v", err)
	}
	wantSame(t, "TokenDenials after the last seen, unexpired", got, []*keyward.TokenDenial{jti, key})
	got, err = s.TokenDenials(ctx, jti.ID, now, 100)
	if err != nil {
		t.Fatalf("TokenDenials: %v", err)
	}
	wantSame(t, "TokenDenials after the first", got, []*keyward.TokenDenial{key})
	got, err = s.TokenDenials(ctx, last, now, 1)
	if err != nil {
		t.Fatalf("TokenDenials: %v", err)
	}
	wantSame(t, "TokenDenials with limit 1", got, []*keyward.TokenDenial{jti})
	// As of the zero time every denial is listed, expired ones too: migrate-store copies them so.
	got, err = s.TokenDenials(ctx, last, time.Time{}, 100)
	if err != nil {
		t.Fatalf("TokenDenials at the zero time: %v", err)
	}
	wantSame(t, "TokenDenials at the zero time", got, []*keyward.TokenDenial{jti, key, gone})

	wantCode(t, "DenyTokens naming neither", s.DenyTokens(ctx, &keyward.TokenDenial{From: now, ExpiresAt: now}), keyward.EValidation)
	wantCode(t, "DenyTokens naming both", s.DenyTokens(ctx, &keyward.TokenDenial{TokenID: "a", KeyID: "b", From: now, ExpiresAt: now}), keyward.EValidation)
}

func testPruneTokenDenials(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := &keyward.TokenDenial{TokenID: keyward.NewID(), From: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-2 * time.Hour)}
	live := &keyward.TokenDenial{KeyID: keyward.NewID(), From: now, ExpiresAt: now.Add(time.Hour)}
	for _, d := range []*keyward.TokenDenial{old, live} {
		if err := s.DenyTokens(ctx, d); err != nil {
			t.Fatalf("DenyTokens: %v", err)
		}
	}
	n, err := s.PruneTokenDenials(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatalf("PruneTokenDenials: %v", err)
	}
	if n < 1 {
		t.Errorf("PruneTokenDenials = %d, want at least 1", n)
	}
	// The pruned denial is gone even to a reader that asks as of its own time.
	got, err := s.TokenDenials(ctx, old.ID-1, now.Add(-4*time.Hour), 2)
	if err != nil {
		t.Fatalf("TokenDenials: %v", err)
	}
	wantSame(t, "TokenDenials after pruning", got, []*keyward.TokenDenial{live})
	// A new denial still gets a higher id than every one before, pruned or not.
	next := &keyward.TokenDenial{TokenID: keyward.NewID(), From: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.DenyTokens(ctx, next); err != nil {
		t.Fatalf("DenyTokens: %v", err)
	}
	if next.ID <= live.ID {
		t.Errorf("DenyTokens after pruning: id %d, want above %d", next.ID, live.ID)
	}
}
