package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
)

// migrateFixture is a SQLite store filled through keyward.Service, and the secrets it
// handed out, to check against the copy.
type migrateFixture struct {
	dataDir string
	secret  keyformat.Secret
	hasher  *keyformat.Hasher
	// adminSecrets and adminKeys are the admin keys made, in the same order.
	adminSecrets []string
	adminKeys    []*keyward.AdminKey
	// keys are API key secrets by what each should verify as in the copy.
	keys map[string]keyward.VerifyCode
	// tokens are OAuth access tokens issued before the copy, by what each should verify as
	// in the copy.
	tokens map[string]keyward.VerifyCode
}

// migrateIssuer is the public URL of the fixture's tokens, which the copy's servers keep.
const migrateIssuer = "https://keyward.migrate.test"

// migrateTokens returns the OAuth tokens of a server over store with the fixture's secret and
// issuer.
func migrateTokens(t *testing.T, f *migrateFixture, store oauth.Store) *oauth.Tokens {
	t.Helper()
	tokens, err := oauth.New(t.Context(), oauth.Config{Store: store, Secrets: []keyformat.Secret{f.secret}, Issuer: migrateIssuer})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// newMigrateFixture fills a SQLite store in a new data directory with one of everything:
// two accounts with admin keys, a custom role, projects, an environment, users (one linked to
// an OIDC identity, one disabled), user and key memberships, project keys, an account key,
// a key rotated with grace and then without, a revoked key, a used key, keys whose rotation
// successors have lower ids than they do, audit events, a token-signing key, and OAuth
// access tokens: live ones, a revoked one, and ones of keys revoked or rotated since.
func newMigrateFixture(t *testing.T) *migrateFixture {
	t.Helper()
	ctx := t.Context()
	f := &migrateFixture{dataDir: filepath.Join(t.TempDir(), "data"), keys: map[string]keyward.VerifyCode{}, tokens: map[string]keyward.VerifyCode{}}
	value := make([]byte, 32)
	rand.Read(value)
	f.secret = keyformat.Secret{Version: 1, Value: value}
	var err error
	if f.hasher, err = keyformat.NewHasher(f.secret); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(f.dataDir, "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	secretFile := "1:" + base64.StdEncoding.EncodeToString(value) + "\n"
	if err := os.WriteFile(filepath.Join(f.dataDir, "server-secret"), []byte(secretFile), 0o600); err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]keyformat.Secret{f.secret}, sealPurpose)
	if err != nil {
		t.Fatal(err)
	}
	svc := keyward.NewService(store, f.hasher, keyward.WithSealer(sealer), keyward.WithEventEncoder(httpapi.EncodeEvent))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tokens := migrateTokens(t, f, store)
	// issue gets an access token for k, which should verify as want in the copy.
	issue := func(k *keyward.Key, want keyward.VerifyCode) *oauth.Issued {
		t.Helper()
		issued, err := tokens.Issue(ctx, k, nil, k.Scopes)
		must(err)
		f.tokens[issued.AccessToken] = want
		return issued
	}
	admin := func(secret string) keyward.Principal {
		t.Helper()
		p, err := svc.AuthenticateAdmin(ctx, secret)
		must(err)
		return p
	}

	rootSecret, err := svc.Bootstrap(ctx)
	must(err)
	root := admin(rootSecret)
	_, acmeKey, acmeSecret, err := svc.CreateAccount(ctx, root, keyward.CreateAccountInput{Name: "acme", KeyPrefix: "acme"})
	must(err)
	spare, spareSecret, err := svc.CreateAdminKey(ctx, "acme", "spare")
	must(err)
	f.adminSecrets = append(f.adminSecrets, acmeSecret, spareSecret)
	f.adminKeys = append(f.adminKeys, acmeKey, spare)
	acme := admin(acmeSecret)

	role, err := svc.CreateRole(ctx, acme, keyward.RoleInput{Name: "Deployer", Slug: "deployer",
		Description: "ships things", Permissions: []string{keyward.PermKeysRead, "deploys.create"}})
	must(err)
	web, err := svc.CreateProject(ctx, acme, keyward.CreateProjectInput{Name: "web", KeyPrefix: "web"})
	must(err)
	billing, err := svc.CreateProject(ctx, acme, keyward.CreateProjectInput{Name: "billing"})
	must(err)
	prod, err := svc.CreateEnvironment(ctx, acme, web.ID, "production")
	must(err)
	_, err = svc.CreateEnvironment(ctx, root, mustProject(t, svc, root, "root-project").ID, "staging")
	must(err)
	ada, err := svc.CreateUser(ctx, acme, keyward.CreateUserInput{Email: "ada@example.com", Name: "Ada",
		RoleID: "deployer", Issuer: "https://issuer.example.com/", Subject: "auth0|ada"})
	must(err)
	bob, err := svc.CreateUser(ctx, acme, keyward.CreateUserInput{Email: "bob@example.com", Name: "Bob"})
	must(err)
	disabled := true
	_, err = svc.UpdateUser(ctx, acme, bob.ID, keyward.UpdateUserInput{Disabled: &disabled})
	must(err)
	_, err = svc.AddMember(ctx, acme, billing.ID, keyward.AddMemberInput{UserID: ada.ID, RoleID: keyward.RoleViewer})
	must(err)

	// An endpoint, so that what follows leaves webhooks pending: both are copied.
	hookURL := "https://hooks.example.com/keyward"
	_, err = svc.CreateWebhookEndpoint(ctx, acme, keyward.WebhookEndpointInput{URL: &hookURL})
	must(err)

	expires := time.Now().Add(90 * 24 * time.Hour)
	projectKey, projectSecret, err := svc.CreateKey(ctx, acme, keyward.CreateKeyInput{
		ProjectID: web.ID, EnvironmentID: prod.ID, UserID: ada.ID, RoleID: role.ID, Name: "deploy bot",
		Scopes: []string{"deploy", "read"}, ExpiresAt: &expires,
		Metadata:             map[string]any{"team": "platform", "n": 3.5, "tags": []any{"a", "b"}, "nested": map[string]any{"ok": true}},
		RotationIntervalDays: 30, RotationWebhookURL: "https://hooks.example.com/rotate",
		ProjectAccesses: []keyward.ProjectAccess{{ProjectID: billing.ID, RoleID: role.ID}},
	})
	must(err)
	f.keys[projectSecret] = keyward.VerifyValid
	issue(projectKey, keyward.VerifyValid)
	// A membership added after the key was made has its own id and time, which the copy must
	// keep rather than remake from the key.
	time.Sleep(2 * time.Millisecond)
	accountKey, accountSecret, err := svc.CreateKey(ctx, acme, keyward.CreateKeyInput{Name: "account key", RoleID: keyward.RoleAdmin})
	must(err)
	_, err = svc.AddMember(ctx, acme, web.ID, keyward.AddMemberInput{KeyID: accountKey.ID, RoleID: keyward.RoleMember})
	must(err)
	f.keys[accountSecret] = keyward.VerifyValid
	must(tokens.Revoke(ctx, issue(accountKey, keyward.VerifyRevoked).Token))
	issue(accountKey, keyward.VerifyValid)
	must(store.TouchKeys(ctx, []keyward.KeyUse{{KeyID: accountKey.ID, At: time.Now().UTC().Truncate(time.Microsecond)}}))

	rotated, rotatedSecret, err := svc.CreateKey(ctx, acme, keyward.CreateKeyInput{ProjectID: web.ID, Name: "rotated"})
	must(err)
	issue(rotated, keyward.VerifyValid) // in its key's grace period
	first, err := svc.RotateKey(ctx, acme, rotated.ID, keyward.RotateKeyInput{GracePeriod: time.Hour})
	must(err)
	issue(first.New, keyward.VerifyRevoked) // its key is rotated without grace
	second, err := svc.RotateKey(ctx, acme, first.New.ID, keyward.RotateKeyInput{})
	must(err)
	f.keys[rotatedSecret] = keyward.VerifyValid // in its grace period
	f.keys[first.Secret] = keyward.VerifyRevoked
	f.keys[second.Secret] = keyward.VerifyValid

	revoked, revokedSecret, err := svc.CreateKey(ctx, acme, keyward.CreateKeyInput{ProjectID: billing.ID, Name: "revoked"})
	must(err)
	issue(revoked, keyward.VerifyRevoked)
	_, err = svc.RevokeKey(ctx, acme, revoked.ID)
	must(err)
	f.keys[revokedSecret] = keyward.VerifyRevoked
	_, err = svc.UpdateKey(ctx, acme, projectKey.ID, keyward.UpdateKeyInput{Name: ptr("deploy bot v2")})
	must(err)

	// Rate limits, credits and usage: a tier of the account's own and a changed built-in
	// one, a key with credits and its own limit, a pending and a decided tier request, and
	// usage counts.
	_, err = svc.CreateRateLimitTier(ctx, acme, keyward.TierInput{Name: "partner", Limit: &keyward.RateLimit{Rate: 5, Period: time.Second, Burst: 10, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}})
	must(err)
	_, err = svc.UpdateRateLimitTier(ctx, acme, keyward.TierStandard, keyward.TierInput{Description: ptr("ours")})
	must(err)
	metered, _, err := svc.CreateKey(ctx, acme, keyward.CreateKeyInput{ProjectID: web.ID, Name: "metered", RateLimitTier: "partner",
		RateLimit: &keyward.RateLimit{Rate: 2, Period: time.Second, Burst: 2},
		Credits:   &keyward.Credits{Remaining: 40, Refill: &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 50, Day: 1}}})
	must(err)
	if _, err := store.SpendCredits(ctx, metered.LineageID, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A caller who may update keys but not approve tiers: its requests wait.
	member := keyward.Principal{AccountID: acme.AccountID, Kind: keyward.KindAPIKey, ID: metered.ID, Permissions: keyward.Permissions{"api_keys.read", "api_keys.update"}}
	_, err = svc.RequestTier(ctx, member, metered.ID, keyward.TierHigh)
	must(err)
	decided, err := svc.RequestTier(ctx, member, projectKey.ID, keyward.TierHigh)
	must(err)
	_, err = svc.DecideTierRequest(ctx, acme, decided.ID, false, "not now")
	must(err)
	minute := time.Now().UTC().Truncate(time.Minute)
	must(store.AddUsage(ctx, []keyward.UsageCount{
		{KeyID: metered.ID, AccountID: acme.AccountID, Minute: minute, Outcome: keyward.VerifyValid, Count: 7},
		{KeyID: metered.ID, AccountID: acme.AccountID, Minute: minute.Add(-time.Hour), Outcome: keyward.VerifyRateLimited, Count: 2},
		{KeyID: projectKey.ID, AccountID: acme.AccountID, Minute: minute, Outcome: keyward.VerifyValid, Count: 1},
	}))

	// A chain whose successors sort before the keys they replaced, as clock skew between
	// nodes could make: z is replaced by a, and a by m.
	acct := acme.AccountID
	chain := func(id string) *keyward.Key {
		hash := make([]byte, 32)
		rand.Read(hash)
		return &keyward.Key{ID: id, AccountID: acct, Name: "skewed " + id[:1], Prefix: "acme_skew", Last4: "abcd",
			Hash: hash, HashScheme: f.hasher.CurrentScheme(), Scopes: []string{}, RateLimitTier: keyward.TierStandard,
			CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	}
	must(store.CreateKey(ctx, chain("zzzzzzzz-0000-7000-8000-000000000000")))
	grace := time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour)
	_, err = store.RotateKey(ctx, acct, "zzzzzzzz-0000-7000-8000-000000000000", chain("aaaaaaaa-0000-7000-8000-000000000000"), &grace)
	must(err)
	_, err = store.RotateKey(ctx, acct, "aaaaaaaa-0000-7000-8000-000000000000", chain("mmmmmmmm-0000-7000-8000-000000000000"), nil)
	must(err)

	for _, a := range []struct {
		p       keyward.Principal
		action  string
		outcome string
		code    string
	}{
		{acme, "create-api-key", keyward.OutcomeSuccess, ""},
		{acme, "revoke-api-key", keyward.OutcomeFailure, string(keyward.ENotFound)},
		{root, "create-account", keyward.OutcomeSuccess, ""},
	} {
		must(store.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: a.p.AccountID, At: time.Now().UTC().Truncate(time.Microsecond),
			ActorKind: a.p.Kind, ActorID: a.p.ID, Action: a.action, TargetType: "api_key", TargetID: projectKey.ID,
			RemoteAddr: "192.0.2.1", Outcome: a.outcome, ErrorCode: a.code}))
	}
	// An event of an account the store does not hold: the log outlives what it records.
	must(store.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: "gone", At: time.Now().UTC().Truncate(time.Microsecond),
		Action: "delete-everything", Outcome: keyward.OutcomeSuccess}))
	return f
}

func mustProject(t *testing.T, svc *keyward.Service, p keyward.Principal, name string) *keyward.Project {
	t.Helper()
	proj, err := svc.CreateProject(t.Context(), p, keyward.CreateProjectInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return proj
}

func ptr[T any](v T) *T { return &v }

// storeDump is everything a store holds that its listing methods reach, in id order.
type storeDump struct {
	Accounts     []*keyward.Account
	Projects     []*keyward.Project
	Environments []*keyward.Environment
	Roles        []*keyward.Role
	Users        []*keyward.User
	Keys         []*keyward.Key
	Memberships  []*keyward.Membership
	Audit        []*keyward.AuditEvent
	SigningKeys  []*keyward.SigningKey
	// TokenDenials have their ids cleared: a copy numbers them anew, in the same order.
	TokenDenials []*keyward.TokenDenial
	Tiers        []*keyward.RateLimitTier
	TierRequests []*keyward.TierRequest
	Usage        []keyward.UsageBucket
}

// dumpStore reads everything from s; auditAccounts names the accounts whose audit log to
// read, beyond those s holds.
func dumpStore(t *testing.T, s keyward.Store, auditAccounts ...string) storeDump {
	t.Helper()
	ctx := t.Context()
	var d storeDump
	all := func(fn func(after string) (string, error)) {
		t.Helper()
		after := ""
		for {
			next, err := fn(after)
			if err != nil {
				t.Fatal(err)
			}
			if next == "" {
				return
			}
			after = next
		}
	}
	// last returns the id to continue after, or "" when the page was short.
	last := func(n int, id func(int) string) string {
		if n < 100 {
			return ""
		}
		return id(n - 1)
	}
	all(func(after string) (string, error) {
		items, err := s.ListAccounts(ctx, after, 100)
		d.Accounts = append(d.Accounts, items...)
		return last(len(items), func(i int) string { return items[i].ID }), err
	})
	for _, a := range d.Accounts {
		auditAccounts = append(auditAccounts, a.ID)
		all(func(after string) (string, error) {
			items, err := s.ListProjects(ctx, a.ID, after, 100)
			d.Projects = append(d.Projects, items...)
			return last(len(items), func(i int) string { return items[i].ID }), err
		})
		all(func(after string) (string, error) {
			items, err := s.ListRoles(ctx, a.ID, after, 100)
			d.Roles = append(d.Roles, items...)
			return last(len(items), func(i int) string { return items[i].ID }), err
		})
		all(func(after string) (string, error) {
			items, err := s.ListUsers(ctx, a.ID, after, 100)
			d.Users = append(d.Users, items...)
			return last(len(items), func(i int) string { return items[i].ID }), err
		})
		all(func(after string) (string, error) {
			items, err := s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, After: after, Limit: 100})
			d.Keys = append(d.Keys, items...)
			return last(len(items), func(i int) string { return items[i].ID }), err
		})
		items, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		d.Memberships = append(d.Memberships, items...)
		tiers, err := s.ListRateLimitTiers(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		d.Tiers = append(d.Tiers, tiers...)
		requests, err := s.ListTierRequests(ctx, keyward.TierRequestFilter{AccountID: a.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		d.TierRequests = append(d.TierRequests, requests...)
		usage, err := s.Usage(ctx, keyward.UsageFilter{AccountID: a.ID, Granularity: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		d.Usage = append(d.Usage, usage...)
	}
	for _, p := range d.Projects {
		all(func(after string) (string, error) {
			items, err := s.ListEnvironments(ctx, p.AccountID, p.ID, after, 100)
			d.Environments = append(d.Environments, items...)
			return last(len(items), func(i int) string { return items[i].ID }), err
		})
	}
	for _, id := range auditAccounts {
		events, err := s.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		d.Audit = append(d.Audit, events...)
	}
	var err error
	if d.SigningKeys, err = s.SigningKeys(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if d.TokenDenials, err = s.TokenDenials(ctx, 0, time.Time{}, 1000); err != nil {
		t.Fatal(err)
	}
	for _, x := range d.TokenDenials {
		x.ID = 0
	}
	return d
}

// runMigrateStore runs `keyward migrate-store` and returns its stdout, or its error.
func runMigrateStore(t *testing.T, from, to string) (string, error) {
	t.Helper()
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"migrate-store", "--from", from, "--to", to})
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// checkCopy compares everything in the copy at to with the source, and checks that the
// fixture's secrets verify and authenticate against the copy as they should.
func checkCopy(t *testing.T, f *migrateFixture, source, copied keyward.Store) {
	t.Helper()
	ctx := t.Context()
	want, got := dumpStore(t, source, "gone"), dumpStore(t, copied, "gone")
	if len(want.Keys) < 9 || len(want.Memberships) < 3 || len(want.Audit) < 4 || len(want.SigningKeys) < 1 || len(want.TokenDenials) < 4 {
		t.Fatalf("the fixture is thinner than it should be: %d keys, %d memberships, %d audit events, %d signing keys, %d token denials",
			len(want.Keys), len(want.Memberships), len(want.Audit), len(want.SigningKeys), len(want.TokenDenials))
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("the copy differs from the source (-source +copy):\n%s", diff)
	}

	wantN, err := source.CountAdminKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := copied.CountAdminKeys(ctx); err != nil || n != wantN {
		t.Errorf("CountAdminKeys of the copy: got %d, %v, want %d", n, err, wantN)
	}
	for _, k := range f.adminKeys {
		wantKey, err := source.AdminKeyByHash(ctx, k.Hash)
		if err != nil {
			t.Fatal(err)
		}
		gotKey, err := copied.AdminKeyByHash(ctx, k.Hash)
		if err != nil {
			t.Fatalf("admin key %s is not in the copy: %v", k.ID, err)
		}
		if diff := cmp.Diff(wantKey, gotKey, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("admin key %s differs (-source +copy):\n%s", k.ID, diff)
		}
	}
	svc := keyward.NewService(copied, f.hasher)
	for _, secret := range f.adminSecrets {
		if _, err := svc.AuthenticateAdmin(ctx, secret); err != nil {
			t.Errorf("an admin key does not authenticate against the copy: %v", err)
		}
	}

	v := verify.New(copied, f.hasher, verify.Config{Resolver: keyward.NewResolver(copied)})
	defer v.Close(context.WithoutCancel(ctx))
	for secret, want := range f.keys {
		res, err := v.Check(ctx, secret, verify.Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != want {
			t.Errorf("key %s… verifies as %s against the copy, want %s", secret[:12], res.Code, want)
		}
	}

	// A server on the copy, with the source's secret and public URL, verifies the tokens
	// issued before the copy with the signing key it copied, and refuses the revoked ones.
	tokens := migrateTokens(t, f, copied)
	for token, want := range f.tokens {
		if _, code := tokens.Verify(ctx, token); code != want {
			t.Errorf("a token issued before the copy verifies as %s against the copy, want %s", code, want)
		}
	}
	if n := len(f.tokens); n < 5 {
		t.Errorf("the fixture issued %d tokens, want at least 5", n)
	}
}

func TestMigrateStoreSQLiteToSQLite(t *testing.T) {
	f := newMigrateFixture(t)
	target := filepath.Join(t.TempDir(), "new-data")
	out, err := runMigrateStore(t, f.dataDir, target)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"accounts             2\n", "projects             3\n", "environments         2\n",
		"custom roles         1\n", "users                2\n", "API keys             10\n",
		// The audit log holds what the fixture's service calls recorded, however many: the
		// copy itself checks that it copied as many events as the source holds.
		"project memberships  3\n", "admin keys           3\n", "audit events ",
		"token-signing keys   1\n", "token denials        4\n", "rate-limit tiers     2\n",
		"tier requests        2\n", "usage credits        1\n", "usage counts         3\n", "--public-url",
		filepath.Join(f.dataDir, "server-secret"),
		filepath.Join(target, "server-secret"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
	checkCopy(t, f, openSQLite(t, filepath.Join(f.dataDir, "keyward.db")), openSQLite(t, filepath.Join(target, "keyward.db")))
}

func TestMigrateStoreSQLiteToPostgresAndBack(t *testing.T) {
	dsn := migrateTestDatabase(t)
	f := newMigrateFixture(t)
	if _, err := runMigrateStore(t, f.dataDir, dsn); err != nil {
		t.Fatal(err)
	}
	source := openSQLite(t, filepath.Join(f.dataDir, "keyward.db"))
	pg, err := storeLocation{url: dsn}.openSource(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	t.Run("to PostgreSQL", func(t *testing.T) { checkCopy(t, f, source, pg) })

	back := filepath.Join(t.TempDir(), "back.db")
	if _, err := runMigrateStore(t, dsn, back); err != nil {
		t.Fatal(err)
	}
	// Against PostgreSQL, its source: verifying keys against it above wrote their last use.
	t.Run("back to SQLite", func(t *testing.T) { checkCopy(t, f, pg, openSQLite(t, back)) })
}

func TestMigrateStoreRefusesATargetWithAccounts(t *testing.T) {
	f := newMigrateFixture(t)
	_, err := runMigrateStore(t, f.dataDir, f.dataDir)
	if err == nil || !strings.Contains(err.Error(), "already holds accounts") {
		t.Errorf("got %v, want a refusal of a target that holds accounts", err)
	}
}

func TestMigrateStoreRefusesAMissingSource(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "keywrad-data")
	_, err := runMigrateStore(t, missing, filepath.Join(dir, "target"))
	if err == nil || !strings.Contains(err.Error(), "no Keyward database") {
		t.Errorf("got %v, want a refusal of a source that holds no database", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s was created", missing)
	}
}

func TestParseStoreLocation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "store.db")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in string
		want     storeLocation
		wantErr  bool
	}{
		{"postgres URL", "postgres://u:pw@db/keyward", storeLocation{url: "postgres://u:pw@db/keyward"}, false},
		{"postgresql URL", "postgresql://db/keyward", storeLocation{url: "postgresql://db/keyward"}, false},
		{"existing data directory", dir, storeLocation{path: filepath.Join(dir, "keyward.db")}, false},
		{"new data directory", filepath.Join(dir, "new"), storeLocation{path: filepath.Join(dir, "new", "keyward.db")}, false},
		{"existing file", file, storeLocation{path: file}, false},
		{"new file", filepath.Join(dir, "new.db"), storeLocation{path: filepath.Join(dir, "new.db")}, false},
		{"other URL", "mysql://db/keyward", storeLocation{}, true},
		{"empty", "", storeLocation{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStoreLocation(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStoreLocationStringHidesThePassword(t *testing.T) {
	for _, in := range []string{"postgres://keyward:hunter2@db/keyward", "postgres://db/keyward?password=hunter2"} {
		l, err := parseStoreLocation(in)
		if err != nil {
			t.Fatal(err)
		}
		if s := l.String(); strings.Contains(s, "hunter2") {
			t.Errorf("%s shows the password", s)
		}
	}
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrateTestDatabase creates a database of the test's own on the server that
// KEYWARD_TEST_POSTGRES names, drops it when the test ends, and returns its URL. It skips the
// test when the variable is unset.
func migrateTestDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("KEYWARD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("KEYWARD_TEST_POSTGRES is not set")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("KEYWARD_TEST_POSTGRES must be a postgres:// URL for this test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("KEYWARD_TEST_POSTGRES is set, but its server cannot be reached: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	name := "keyward_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connecting to drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func TestMigrateStoreRefusesASourceWithoutKeyward(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dir := t.TempDir()
		empty := filepath.Join(dir, "empty.db")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := runMigrateStore(t, empty, filepath.Join(dir, "target"))
		if err == nil || !strings.Contains(err.Error(), "no Keyward data") {
			t.Errorf("got %v, want a refusal of a source that holds no Keyward database", err)
		}
		if info, err := os.Stat(empty); err != nil || info.Size() != 0 {
			t.Errorf("the source was changed: %v, %v", info, err)
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := migrateTestDatabase(t)
		_, err := runMigrateStore(t, dsn, filepath.Join(t.TempDir(), "target"))
		if err == nil || !strings.Contains(err.Error(), "no Keyward data") {
			t.Errorf("got %v, want a refusal of a database that holds no Keyward schema", err)
		}
	})
}

// TestMigrateStoreChecksCounts compares what was copied with the source's inventory, kind by
// kind, and names each kind that differs.
func TestMigrateStoreChecksCounts(t *testing.T) {
	ctx := t.Context()
	source := openSQLite(t, filepath.Join(t.TempDir(), "keyward.db"))
	a := &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "acme", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := source.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	p := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: "web", KeyPrefix: "web", CreatedAt: a.CreatedAt}
	if err := source.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		copied keyward.Inventory
		want   []string // "" for no error
		absent []string
	}{
		{"all copied", keyward.Inventory{Accounts: 1, Projects: 1}, nil, nil},
		{"a project missing, a user too many", keyward.Inventory{Accounts: 1, Users: 1},
			[]string{"projects: the source holds 1, and 0 were copied", "users: the source holds 0, and 1 were copied", "still writing"},
			[]string{"accounts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &storeCopier{from: source, copied: tt.copied}
			err := c.checkCounts(ctx)
			if tt.want == nil {
				if err != nil {
					t.Errorf("checkCounts: got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkCounts: got no error, want one saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("checkCounts: got %q, want it to say %q", err, w)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(err.Error(), w) {
					t.Errorf("checkCounts: got %q, want it not to name %q", err, w)
				}
			}
		})
	}
}
