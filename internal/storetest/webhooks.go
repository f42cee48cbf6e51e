package storetest

import (
	"crypto/sha256"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
)

// webhookTests are the promises of WebhookEndpointStore, ScheduleStore and ImportedKeyStore,
// and of the key fields they keep.
var webhookTests = []struct {
	name string
	run  func(t *testing.T, s keyward.Store)
}{
	{"WebhookEndpointRoundTrip", testWebhookEndpointRoundTrip},
	{"WebhookEndpointOtherAccount", testWebhookEndpointOtherAccount},
	{"ListWebhookEndpoints", testListWebhookEndpoints},
	{"KeyScheduleFields", testKeyScheduleFields},
	{"DueRotations", testDueRotations},
	{"ExpiringKeys", testExpiringKeys},
	{"MarkKeyNotice", testMarkKeyNotice},
	{"MarkKeyLeaked", testMarkKeyLeaked},
	{"ImportedKeys", testImportedKeys},
	{"LeakPolicies", testLeakPolicies},
	{"Sessions", testSessions},
}

func newEndpoint(t *testing.T, s keyward.Store, accountID string, edit func(e *keyward.WebhookEndpoint)) *keyward.WebhookEndpoint {
	t.Helper()
	e := &keyward.WebhookEndpoint{
		ID: keyward.NewID(), AccountID: accountID, URL: "https://hooks.example.com/" + keyward.NewID(),
		Enabled: true, Secret: []byte{0, 1, 2, 250, 251}, CreatedAt: base, UpdatedAt: base,
	}
	if edit != nil {
		edit(e)
	}
	if err := s.CreateWebhookEndpoint(t.Context(), e); err != nil {
		t.Fatalf("CreateWebhookEndpoint: %v", err)
	}
	return e
}

func testWebhookEndpointRoundTrip(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	e := newEndpoint(t, s, a.ID, func(e *keyward.WebhookEndpoint) {
		e.Description = "audit"
		e.Topics = []string{keyward.TopicKeyCreated, keyward.TopicKeyRevoked}
	})
	got, err := s.WebhookEndpoint(t.Context(), a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e, got); d != "" {
		t.Fatalf("endpoint (-put +got):\n%s", d)
	}
	e.Enabled, e.DisabledReason = false, "the endpoint answered 410 Gone"
	e.Topics = nil
	e.PreviousSecret, e.PreviousSecretUntil = e.Secret, at(time.Hour)
	e.Secret = []byte("new sealed secret")
	e.UpdatedAt = base.Add(time.Minute)
	if err := s.UpdateWebhookEndpoint(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebhookEndpoint(t.Context(), a.ID, e.ID)
	if d := cmp.Diff(e, got); d != "" {
		t.Fatalf("updated endpoint (-put +got):\n%s", d)
	}
	if err := s.DeleteWebhookEndpoint(t.Context(), a.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebhookEndpoint(t.Context(), a.ID, e.ID); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(t.Context(), a.ID, e.ID); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Fatalf("deleting twice: %v", err)
	}
}

func testWebhookEndpointOtherAccount(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	e := newEndpoint(t, s, a.ID, nil)
	if _, err := s.WebhookEndpoint(t.Context(), b.ID, e.ID); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("get: %v", err)
	}
	other := *e
	other.AccountID = b.ID
	if err := s.UpdateWebhookEndpoint(t.Context(), &other); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("update: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(t.Context(), b.ID, e.ID); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("delete: %v", err)
	}
	if got, _ := s.ListWebhookEndpoints(t.Context(), b.ID, "", 10); len(got) != 0 {
		t.Errorf("another account lists %d endpoints", len(got))
	}
}

func testListWebhookEndpoints(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	var ids []string
	for range 5 {
		ids = append(ids, newEndpoint(t, s, a.ID, nil).ID)
	}
	slices.Sort(ids)
	first, err := s.ListWebhookEndpoints(t.Context(), a.ID, "", 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("first page: %d, %v", len(first), err)
	}
	rest, _ := s.ListWebhookEndpoints(t.Context(), a.ID, first[2].ID, 3)
	var got []string
	for _, e := range append(first, rest...) {
		got = append(got, e.ID)
	}
	if d := cmp.Diff(ids, got); d != "" {
		t.Errorf("pages (-want +got):\n%s", d)
	}
}

// The key fields of scheduled rotation, notices, leaks and imports round-trip through every
// way a key is written and read; UpdateKey writes the notices but not the leak record.
func testKeyScheduleFields(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	zero, hour := time.Duration(0), time.Hour
	def := newKey(t, s, p, nil)
	none := newKey(t, s, p, func(k *keyward.Key) { k.RotationGrace = &zero })
	full := newKey(t, s, p, func(k *keyward.Key) {
		k.RotationGrace = &hour
		k.RotationIntervalDays, k.NextRotationAt = 1, at(24*time.Hour)
		k.RotationWebhookURL, k.RotationWebhookSecret = "https://hooks.example.com/r", []byte{9, 8, 7}
		k.ExpiryNotifiedAt, k.ExhaustedAt = at(time.Minute), at(2*time.Minute)
		k.LeakedAt, k.LeakSource, k.LeakURL = at(3*time.Minute), "github", "https://github.com/x"
	})
	for _, want := range []*keyward.Key{def, none, full} {
		got, err := s.Key(t.Context(), a.ID, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("key %s (-put +got):\n%s", want.ID, d)
		}
		byHash, _ := s.KeyByHash(t.Context(), want.Hash)
		if d := cmp.Diff(want, byHash); d != "" {
			t.Errorf("key by hash (-put +got):\n%s", d)
		}
	}
	// UpdateKey: the notices and the rotation settings, not the leak record.
	upd := cloneKey(full)
	upd.ExpiryNotifiedAt, upd.ExhaustedAt, upd.RotationGrace, upd.RotationWebhookSecret = nil, nil, nil, nil
	upd.LeakedAt, upd.LeakSource, upd.LeakURL = nil, "", ""
	if err := s.UpdateKey(t.Context(), upd); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Key(t.Context(), a.ID, full.ID)
	if got.ExpiryNotifiedAt != nil || got.ExhaustedAt != nil || got.RotationGrace != nil || got.RotationWebhookSecret != nil {
		t.Errorf("UpdateKey did not clear the notices and settings: %+v", got)
	}
	if got.LeakedAt == nil || got.LeakSource != "github" || got.LeakURL != "https://github.com/x" {
		t.Errorf("UpdateKey changed the leak record: %v %q %q", got.LeakedAt, got.LeakSource, got.LeakURL)
	}
	// A rotation's new key keeps what it is given.
	next := nextKey(t, full, base.Add(time.Hour))
	if _, err := s.RotateKey(t.Context(), a.ID, full.ID, next, nil); err != nil {
		t.Fatal(err)
	}
	gotNext, _ := s.Key(t.Context(), a.ID, next.ID)
	if d := cmp.Diff(next, gotNext); d != "" {
		t.Errorf("rotated key (-put +got):\n%s", d)
	}
}

func mine(keys []*keyward.Key, of ...*keyward.Key) []string {
	var out []string
	for _, k := range keys {
		for _, o := range of {
			if k.ID == o.ID {
				out = append(out, k.ID)
			}
		}
	}
	return out
}

func testDueRotations(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	pa, pb := newProject(t, s, a.ID), newProject(t, s, b.ID)
	schedule := func(d time.Duration) func(*keyward.Key) {
		return func(k *keyward.Key) { k.RotationIntervalDays, k.NextRotationAt = 1, at(d) }
	}
	later := newKey(t, s, pa, schedule(-time.Minute))
	sooner := newKey(t, s, pb, schedule(-time.Hour))
	exact := newKey(t, s, pa, schedule(0))
	notYet := newKey(t, s, pa, schedule(time.Second))
	revoked := newKey(t, s, pa, func(k *keyward.Key) { schedule(-time.Hour)(k); k.RevokedAt = at(-time.Hour) })
	replaced := newKey(t, s, pa, schedule(-time.Hour))
	if _, err := s.RotateKey(t.Context(), a.ID, replaced.ID, nextKey(t, replaced, base), at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	unscheduled := newKey(t, s, pa, nil)
	due, err := s.DueRotations(t.Context(), base, 10000)
	if err != nil {
		t.Fatal(err)
	}
	got := mine(due, later, sooner, exact, notYet, revoked, replaced, unscheduled)
	if d := cmp.Diff([]string{sooner.ID, later.ID, exact.ID}, got); d != "" {
		t.Errorf("due keys, soonest first (-want +got):\n%s", d)
	}
	if one, _ := s.DueRotations(t.Context(), base, 1); len(one) != 1 {
		t.Errorf("limit 1 gave %d", len(one))
	}
}

func testExpiringKeys(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	in := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(time.Hour) })
	edge := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(2 * time.Hour) })
	past := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(0) })
	beyond := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(2*time.Hour + time.Second) })
	grace := newKey(t, s, p, func(k *keyward.Key) { k.GraceExpiresAt = at(time.Minute) })
	notified := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(time.Hour); k.ExpiryNotifiedAt = at(0) })
	revoked := newKey(t, s, p, func(k *keyward.Key) { k.ExpiresAt = at(time.Hour); k.RevokedAt = at(0) })
	keys, err := s.ExpiringKeys(t.Context(), base, base.Add(2*time.Hour), 10000)
	if err != nil {
		t.Fatal(err)
	}
	got := mine(keys, in, edge, past, beyond, grace, notified, revoked)
	want := []string{in.ID, edge.ID, grace.ID}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("expiring keys in (now, until] (-want +got):\n%s", d)
	}
}

func testMarkKeyNotice(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	for _, n := range []keyward.KeyNotice{keyward.NoticeExpiring, keyward.NoticeExhausted} {
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won int
		)
		for range 4 {
			wg.Go(func() {
				ok, err := s.MarkKeyNotice(t.Context(), a.ID, k.ID, n, base)
				if err != nil {
					t.Errorf("MarkKeyNotice: %v", err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%s: %d of 4 concurrent marks won, want 1", n, won)
		}
	}
	got, _ := s.Key(t.Context(), a.ID, k.ID)
	if got.ExpiryNotifiedAt == nil || !got.ExpiryNotifiedAt.Equal(base) || got.ExhaustedAt == nil {
		t.Errorf("after the marks: %v %v", got.ExpiryNotifiedAt, got.ExhaustedAt)
	}
	if _, err := s.MarkKeyNotice(t.Context(), b.ID, k.ID, keyward.NoticeExpiring, base); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("another account's key: %v", err)
	}
	if _, err := s.MarkKeyNotice(t.Context(), a.ID, k.ID, "nonsense", base); err == nil {
		t.Error("an unknown notice was accepted")
	}
}

func testMarkKeyLeaked(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	got, err := s.MarkKeyLeaked(t.Context(), a.ID, k.ID, base, "github", "https://github.com/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	if got.LeakedAt == nil || !got.LeakedAt.Equal(base) || got.LeakSource != "github" || got.LeakURL != "https://github.com/acme/app" || got.RevokedAt != nil {
		t.Errorf("leaked key: %v %q %q %v", got.LeakedAt, got.LeakSource, got.LeakURL, got.RevokedAt)
	}
	if _, err := s.MarkKeyLeaked(t.Context(), b.ID, k.ID, base, "report", ""); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("another account's key: %v", err)
	}
}

func testImportedKeys(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	imported := newKey(t, s, p, func(k *keyward.Key) { k.HashScheme = keyward.ImportHashScheme })
	own := newKey(t, s, p, nil)
	has := func(want []byte) bool {
		hashes, err := s.ImportedKeyHashes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(hashes, func(h []byte) bool { return string(h) == string(want) })
	}
	if !has(imported.Hash) || has(own.Hash) {
		t.Fatal("ImportedKeyHashes does not hold exactly the imported keys")
	}
	if err := s.RehashKey(t.Context(), a.ID, imported.ID, own.Hash, randomHash(t), "x"); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("rehash from a hash the key does not have: %v", err)
	}
	keyed := randomHash(t)
	scheme := "hmac-sha256:1" + keyward.ImportedSchemeSuffix
	if err := s.RehashKey(t.Context(), a.ID, imported.ID, imported.Hash, keyed, scheme); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyByHash(t.Context(), keyed)
	if err != nil || got.ID != imported.ID || got.HashScheme != scheme || !got.WasImported() {
		t.Fatalf("after rehash: %v, %v", got, err)
	}
	if _, err := s.KeyByHash(t.Context(), imported.Hash); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("the old hash still finds the key: %v", err)
	}
	if !has(keyed) || has(imported.Hash) {
		t.Error("ImportedKeyHashes does not follow the rehash")
	}
	if err := s.RehashKey(t.Context(), a.ID, imported.ID, imported.Hash, randomHash(t), scheme); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("a second rehash from the old hash: %v", err)
	}
}

func testLeakPolicies(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	a.LeakPolicy = keyward.LeakNotify
	if err := s.UpdateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(t.Context(), a.ID); got.LeakPolicy != keyward.LeakNotify {
		t.Errorf("account leak policy %q", got.LeakPolicy)
	}
	p, q := newProject(t, s, a.ID), newProject(t, s, a.ID)
	p.LeakPolicy, p.Name = keyward.LeakRevoke, "renamed "+keyward.NewID()
	if err := s.UpdateProject(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Project(t.Context(), a.ID, p.ID)
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("project (-put +got):\n%s", d)
	}
	q.Name = p.Name
	if err := s.UpdateProject(t.Context(), q); keyward.ErrorCode(err) != keyward.EConflict {
		t.Errorf("a taken name: %v", err)
	}
	other := newAccount(t, s)
	p.AccountID = other.ID
	if err := s.UpdateProject(t.Context(), p); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("another account's project: %v", err)
	}
}

func testSessions(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	token := keyward.NewSessionToken()
	sum := sha256.Sum256([]byte(token))
	sess := &keyward.Session{ID: keyward.NewID(), TokenHash: sum[:], AccountID: a.ID, Kind: keyward.KindAdminKey,
		PrincipalID: keyward.NewID(), CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByTokenHash(t.Context(), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sess, got); d != "" {
		t.Fatalf("session (-put +got):\n%s", d)
	}
	if err := s.TouchSession(t.Context(), sess.ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(t.Context(), sess.ID, base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(t.Context(), sess.ID, base.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.SessionByTokenHash(t.Context(), sum[:])
	if !got.LastSeenAt.Equal(base.Add(time.Minute)) || got.RevokedAt == nil || !got.RevokedAt.Equal(base.Add(2*time.Minute)) {
		t.Errorf("after touch and revoke: %v %v", got.LastSeenAt, got.RevokedAt)
	}
	other := sha256.Sum256([]byte("other"))
	if _, err := s.SessionByTokenHash(t.Context(), other[:]); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("unknown token: %v", err)
	}
	if err := s.TouchSession(t.Context(), keyward.NewID(), base); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("touching an unknown session: %v", err)
	}
	if n, err := s.PruneSessions(t.Context(), base.Add(3*time.Minute)); err != nil || n < 1 {
		t.Errorf("prune: %d, %v", n, err)
	}
	if _, err := s.SessionByTokenHash(t.Context(), sum[:]); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("after prune: %v", err)
	}
}
