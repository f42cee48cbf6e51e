package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/postgres"
	"github.com/keyward/keyward/internal/sqlite"
)

func newMigrateStoreCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate-store --from PATH_OR_URL --to PATH_OR_URL",
		Short: "Copy everything from one store to another (SQLite to PostgreSQL, or back)",
		Long: `Copy every account, project, environment, custom role, user, project membership, API key,
admin key, audit event, token-signing key, token denial, rate-limit tier, tier request, key's
usage credits and usage count from one store into another, empty one, keeping every id, time and key hash, so that every key and admin key goes on working
against the copy, and every OAuth access token too: a token issued before the copy verifies
after it, and a revoked one stays revoked.

A store is a PostgreSQL URL (postgres://… or postgresql://…), or SQLite: a data directory (as
--data takes; its keyward.db is used) or the path of a database file. The target's schema is
created if it has none; a target that already holds an account is refused, including one that
'keyward serve' has started on (it creates the default account).

Stop every server that writes to the source first: the copy is not one transaction, and
what changes during it may be missing from the copy or make it fail. A copy that fails
part-way leaves the target half-filled; empty it before running again.

The server secret is not in the store. Start the target's servers with the secret the
source's keys were hashed with, or no key will verify; the token-signing keys are encrypted
under it too. Access tokens name their issuer: give the target's servers the source's
--public-url, or the tokens issued before the copy are refused.`,
		Example: `  keyward migrate-store --from /var/lib/keyward --to postgres://keyward@db.internal/keyward
  keyward migrate-store --from postgres://keyward@db.internal/keyward --to ./keyward-data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := parseStoreLocation(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			dst, err := parseStoreLocation(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			return migrateStore(cmd.Context(), src, dst, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the store to copy: a data directory, a keyward.db file or a postgres:// URL")
	cmd.Flags().StringVar(&to, "to", "", "the empty store to copy into: a data directory, a database file or a postgres:// URL")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("to")
	return cmd
}

// storeLocation is a store named on the command line: a PostgreSQL database or a SQLite file.
type storeLocation struct {
	url  string // a postgres:// URL; "" for SQLite
	path string // the SQLite database file
}

// parseStoreLocation reads a postgres:// or postgresql:// URL, or else a SQLite path: a
// directory (an existing one, or a new one without an extension) stands for its keyward.db.
func parseStoreLocation(s string) (storeLocation, error) {
	if s == "" {
		return storeLocation{}, errors.New("name a data directory, a database file or a postgres:// URL")
	}
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		if _, err := url.Parse(s); err != nil {
			// The error would quote the URL, password included.
			return storeLocation{}, errors.New("the PostgreSQL URL cannot be parsed")
		}
		return storeLocation{url: s}, nil
	}
	if strings.Contains(s, "://") {
		return storeLocation{}, errors.New("only postgres:// and postgresql:// URLs are stores; anything else is a SQLite path")
	}
	info, err := os.Stat(s)
	if (err == nil && info.IsDir()) || (errors.Is(err, fs.ErrNotExist) && filepath.Ext(s) == "") {
		return storeLocation{path: filepath.Join(s, "keyward.db")}, nil
	}
	return storeLocation{path: s}, nil
}

func (l storeLocation) isPostgres() bool { return l.url != "" }

// String names the store for messages, without a password.
func (l storeLocation) String() string {
	if !l.isPostgres() {
		return l.path
	}
	cfg := config.Config{Database: l.url}
	return cfg.RedactedDatabase()
}

// open opens the store, creating its schema (and, for SQLite, its file) if it has none.
func (l storeLocation) open(ctx context.Context) (keyward.Store, error) {
	if l.isPostgres() {
		return postgres.Open(ctx, l.url)
	}
	return sqlite.Open(ctx, l.path)
}

// openExisting opens the store only if it holds Keyward's schema, as the source of a copy must.
func (l storeLocation) openExisting(ctx context.Context) (keyward.Store, error) {
	if l.isPostgres() {
		return postgres.OpenExisting(ctx, l.url)
	}
	return sqlite.OpenExisting(ctx, l.path)
}

// openSource opens the store to copy from. It refuses a location that holds no Keyward
// database rather than creating an empty one there: opening it as a target would create a
// schema in a database that has none (a mistyped database name, say), and the copy would
// then find nothing and say nothing was wrong.
func (l storeLocation) openSource(ctx context.Context) (keyward.Store, error) {
	if !l.isPostgres() {
		// OpenExisting refuses a missing file too; this says so in the words it always has.
		if _, err := os.Stat(l.path); err != nil {
			return nil, fmt.Errorf("no Keyward database at %s", l.path)
		}
	}
	store, err := l.openExisting(ctx)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		return nil, fmt.Errorf("no Keyward data in %s: %w", l, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", l, err)
	}
	return store, nil
}

// migrateStore copies everything from src into dst, which must hold no account, and reports
// what it copied to stdout and its progress to stderr.
func migrateStore(ctx context.Context, src, dst storeLocation, stdout, stderr io.Writer) error {
	from, err := src.openSource(ctx)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := dst.open(ctx)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dst, err)
	}
	defer to.Close()

	if err := checkEmpty(ctx, to); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	c := &storeCopier{from: from, to: to, progress: stderr, creditLineages: map[string]bool{}}
	if err := c.copyAll(ctx); err != nil {
		return fmt.Errorf("copying %s to %s: %w\n\nThe target now holds part of the copy: empty it (drop and create the database again, or delete the file) before running again", src, dst, err)
	}
	fmt.Fprintf(stdout, "Copied %s to %s:\n%s", src, dst, formatInventory(c.copied))
	printSecretReminder(stdout, src, dst)
	if c.copied.SigningKeys > 0 {
		fmt.Fprintln(stdout, "\nThe token-signing keys are sealed under that same secret. OAuth access tokens issued before")
		fmt.Fprintln(stdout, "the copy verify on the target only if its servers have the source's --public-url")
		fmt.Fprintln(stdout, "(KEYWARD_PUBLIC_URL): the issuer that the tokens name.")
	}
	return nil
}

// checkEmpty refuses a target that holds an account: copying into it would
// mix two stores' data, or fail half-way on the first id or name they share.
func checkEmpty(ctx context.Context, s keyward.Store) error {
	accounts, err := s.ListAccounts(ctx, "", 1)
	if err != nil {
		return err
	}
	if len(accounts) > 0 {
		return errors.New("the target already holds accounts; migrate-store copies only into an empty store " +
			"(a server started on it creates the default account: copy before starting one)")
	}
	return nil
}

// printSecretReminder says where the server secret is and where it must go: the store holds
// only hashes made with it.
func printSecretReminder(w io.Writer, src, dst storeLocation) {
	fmt.Fprintln(w, "\nThe server secret is not in the store: every key and admin key in it verifies only under")
	fmt.Fprintln(w, "the secret it was hashed with.")
	if file, ok := secretFileOf(src); ok {
		fmt.Fprintf(w, "  The source's secret is the file %s.\n", file)
	} else {
		fmt.Fprintln(w, "  The source's secret is the --server-secret (or KEYWARD_SERVER_SECRET, or")
		fmt.Fprintln(w, "  KEYWARD_SERVER_SECRET_FILE) that its servers were started with.")
	}
	if dst.isPostgres() {
		fmt.Fprintln(w, "  Give every node on the target that same secret, beside --database: copy it to each node")
		fmt.Fprintln(w, "  and set KEYWARD_SERVER_SECRET_FILE to its path (or pass --server-secret).")
	} else {
		fmt.Fprintf(w, "  Put that same secret in %s (mode 0600), or start the server with\n",
			filepath.Join(filepath.Dir(dst.path), config.SecretFile))
		fmt.Fprintln(w, "  KEYWARD_SERVER_SECRET_FILE (or --server-secret) set to it.")
	}
}

// secretFileOf returns the generated server secret beside a SQLite store, if there is one.
func secretFileOf(l storeLocation) (string, bool) {
	if l.isPostgres() {
		return "", false
	}
	file := filepath.Join(filepath.Dir(l.path), config.SecretFile)
	_, err := os.Stat(file)
	return file, err == nil
}

// copyBatch is how many rows each list call reads.
const copyBatch = 500

// storeCopier copies one store into another through the keyward.Store interface alone.
type storeCopier struct {
	from, to keyward.Store
	progress io.Writer
	// copied counts what has been copied, kind by kind, as the source's inventory counts it.
	copied keyward.Inventory
	// creditLineages are the lineages whose credits have been copied, with their first key.
	creditLineages map[string]bool
}

// inventoryKinds names each count of an inventory, in the order the command reports them.
func inventoryKinds(inv keyward.Inventory) []struct {
	what string
	n    int
} {
	return []struct {
		what string
		n    int
	}{
		{"accounts", inv.Accounts}, {"projects", inv.Projects}, {"environments", inv.Environments},
		{"custom roles", inv.Roles}, {"users", inv.Users}, {"API keys", inv.Keys},
		{"project memberships", inv.Memberships}, {"admin keys", inv.AdminKeys}, {"audit events", inv.AuditEvents},
		{"token-signing keys", inv.SigningKeys}, {"token denials", inv.TokenDenials},
		{"rate-limit tiers", inv.Tiers}, {"tier requests", inv.TierRequests},
		{"usage credits", inv.Credits}, {"usage counts", inv.UsageCounts},
		{"webhook endpoints", inv.WebhookEndpoints}, {"pending webhooks", inv.PendingOutbox},
	}
}

// formatInventory lists the counts, one a line.
func formatInventory(inv keyward.Inventory) string {
	var b strings.Builder
	for _, k := range inventoryKinds(inv) {
		fmt.Fprintf(&b, "  %-20s %d\n", k.what, k.n)
	}
	return b.String()
}

// copyAll copies every account with everything in it, then the admin keys, the audit log, the
// token-signing keys and the token deny-list, and checks that it copied as much of each kind
// as the source holds.
func (c *storeCopier) copyAll(ctx context.Context) error {
	err := eachPage(func(after string) ([]*keyward.Account, error) {
		return c.from.ListAccounts(ctx, after, copyBatch)
	}, func(a *keyward.Account) string { return a.ID }, func(a *keyward.Account) error {
		return c.copyAccount(ctx, a)
	})
	if err != nil {
		return err
	}
	if err := c.copyAdminKeys(ctx); err != nil {
		return err
	}
	if err := c.copyAudit(ctx); err != nil {
		return err
	}
	if err := c.copySigningKeys(ctx); err != nil {
		return err
	}
	if err := c.copyTokenDenials(ctx); err != nil {
		return err
	}
	return c.checkCounts(ctx)
}

// copyAccount copies a and what it holds, each kind before those that refer to it: roles
// before the users, keys and memberships that hold them; projects and environments before
// keys; users before their keys; keys before their memberships.
func (c *storeCopier) copyAccount(ctx context.Context, a *keyward.Account) error {
	if err := c.to.CreateAccount(ctx, a); err != nil {
		return fmt.Errorf("account %s: %w", a.ID, err)
	}
	c.copied.Accounts++
	id := a.ID
	steps := []struct {
		what string
		copy func() error
	}{
		{"custom roles", func() error {
			return eachPage(func(after string) ([]*keyward.Role, error) { return c.from.ListRoles(ctx, id, after, copyBatch) },
				func(r *keyward.Role) string { return r.ID },
				func(r *keyward.Role) error { return count(&c.copied.Roles, c.to.CreateRole(ctx, r)) })
		}},
		{"projects", func() error {
			return eachPage(func(after string) ([]*keyward.Project, error) { return c.from.ListProjects(ctx, id, after, copyBatch) },
				func(p *keyward.Project) string { return p.ID },
				func(p *keyward.Project) error {
					if err := count(&c.copied.Projects, c.to.CreateProject(ctx, p)); err != nil {
						return err
					}
					return c.copyEnvironments(ctx, p)
				})
		}},
		{"rate-limit tiers", func() error {
			tiers, err := c.from.ListRateLimitTiers(ctx, id)
			for _, t := range tiers {
				if err := count(&c.copied.Tiers, c.to.CreateRateLimitTier(ctx, t)); err != nil {
					return err
				}
			}
			return err
		}},
		{"users", func() error {
			return eachPage(func(after string) ([]*keyward.User, error) { return c.from.ListUsers(ctx, id, after, copyBatch) },
				func(u *keyward.User) string { return u.ID },
				func(u *keyward.User) error { return count(&c.copied.Users, c.to.CreateUser(ctx, u)) })
		}},
		{"API keys", func() error { return c.copyKeys(ctx, id) }},
		{"project memberships", func() error {
			return eachPage(func(after string) ([]*keyward.Membership, error) {
				return c.from.ListMemberships(ctx, keyward.MembershipFilter{AccountID: id, After: after, Limit: copyBatch})
			}, func(m *keyward.Membership) string { return m.ID },
				func(m *keyward.Membership) error { return count(&c.copied.Memberships, c.to.CreateMembership(ctx, m)) })
		}},
		{"tier requests", func() error {
			return eachPage(func(after string) ([]*keyward.TierRequest, error) {
				return c.from.ListTierRequests(ctx, keyward.TierRequestFilter{AccountID: id, After: after, Limit: copyBatch})
			}, func(r *keyward.TierRequest) string { return r.ID },
				func(r *keyward.TierRequest) error {
					return count(&c.copied.TierRequests, c.to.CreateTierRequest(ctx, r))
				})
		}},
		{"usage counts", func() error { return c.copyUsage(ctx, id) }},
		{"webhook endpoints", func() error {
			return eachPage(func(after string) ([]*keyward.WebhookEndpoint, error) {
				return c.from.ListWebhookEndpoints(ctx, id, after, copyBatch)
			}, func(e *keyward.WebhookEndpoint) string { return e.ID },
				func(e *keyward.WebhookEndpoint) error {
					return count(&c.copied.WebhookEndpoints, c.to.CreateWebhookEndpoint(ctx, e))
				})
		}},
		// Messages still to deliver, with their sealed secrets (sealed under the server
		// secret the target's servers share); delivered and given-up ones are history.
		{"pending webhooks", func() error {
			return eachPage(func(before string) ([]*keyward.OutboxMessage, error) {
				return c.from.ListOutbox(ctx, keyward.OutboxFilter{AccountID: id, Pending: true, Before: before, Limit: copyBatch})
			}, func(m *keyward.OutboxMessage) string { return m.ID },
				func(m *keyward.OutboxMessage) error {
					m.LeaseOwner, m.LeaseUntil = "", nil
					return count(&c.copied.PendingOutbox, c.to.EnqueueOutbox(ctx, m))
				})
		}},
	}
	for _, s := range steps {
		if err := s.copy(); err != nil {
			return fmt.Errorf("account %q (%s), %s: %w", a.Name, a.ID, s.what, err)
		}
	}
	fmt.Fprintf(c.progress, "copied account %q (%s)\n", a.Name, a.ID)
	return nil
}

func (c *storeCopier) copyEnvironments(ctx context.Context, p *keyward.Project) error {
	return eachPage(func(after string) ([]*keyward.Environment, error) {
		return c.from.ListEnvironments(ctx, p.AccountID, p.ID, after, copyBatch)
	}, func(e *keyward.Environment) string { return e.ID },
		func(e *keyward.Environment) error {
			return count(&c.copied.Environments, c.to.CreateEnvironment(ctx, e))
		})
}

// copyKeys copies the account's keys with every field as it is: CreateKey stores a key as
// given, replaced_by_key_id, grace_expires_at, revoked_at and last_used_at included.
//
// A key's project accesses are left out: they are its memberships, which the memberships
// step copies with their own ids and times (CreateKey would make them anew, with new ids and
// the key's creation time, which an access added later does not have).
//
// A rotated key refers to its successor, which must exist when the key is inserted. Keys are
// listed by id, which is by creation time, so a successor usually comes after the key it
// replaced: such a key waits until its successor is in.
func (c *storeCopier) copyKeys(ctx context.Context, accountID string) error {
	var (
		listed  string                        // the highest id listed so far
		waiting = map[string]bool{}           // keys listed but not inserted
		waiters = map[string][]*keyward.Key{} // by the id of the successor they wait for
	)
	inserted := func(id string) bool { return id <= listed && !waiting[id] }
	var insert func(k *keyward.Key) error
	insert = func(k *keyward.Key) error {
		row := *k
		row.ProjectAccesses = nil
		if err := c.to.CreateKey(ctx, &row); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
		c.copied.Keys++
		// CreateKey stores the lineage's credits with its first key; the others share them.
		if k.Credits != nil && !c.creditLineages[k.LineageID] {
			c.creditLineages[k.LineageID] = true
			c.copied.Credits++
		}
		delete(waiting, k.ID)
		next := waiters[k.ID]
		delete(waiters, k.ID)
		for _, w := range next {
			if err := insert(w); err != nil {
				return err
			}
		}
		return nil
	}
	err := eachPage(func(after string) ([]*keyward.Key, error) {
		return c.from.ListKeys(ctx, keyward.KeyFilter{AccountID: accountID, After: after, Limit: copyBatch})
	}, func(k *keyward.Key) string { return k.ID }, func(k *keyward.Key) error {
		listed = k.ID
		if k.ReplacedByKeyID != "" && !inserted(k.ReplacedByKeyID) {
			waiting[k.ID] = true
			waiters[k.ReplacedByKeyID] = append(waiters[k.ReplacedByKeyID], k)
			return nil
		}
		return insert(k)
	})
	if err != nil {
		return err
	}
	for successor, keys := range waiters { // any one of them makes the point
		return fmt.Errorf("key %s is replaced by key %s, which the source does not list", keys[0].ID, successor)
	}
	return nil
}

// copyUsage copies the account's usage counts as they are stored, a page at a time: one count
// per key, minute and outcome.
func (c *storeCopier) copyUsage(ctx context.Context, accountID string) error {
	f := keyward.UsageCountFilter{AccountID: accountID, Limit: copyBatch}
	for {
		counts, err := c.from.ListUsageCounts(ctx, f)
		if err != nil {
			return err
		}
		if len(counts) > 0 {
			if err := c.to.AddUsage(ctx, counts); err != nil {
				return fmt.Errorf("usage of keys %s to %s: %w", counts[0].KeyID, counts[len(counts)-1].KeyID, err)
			}
			c.copied.UsageCounts += len(counts)
		}
		if len(counts) < copyBatch {
			return nil
		}
		f.After = &counts[len(counts)-1]
	}
}

// copyAdminKeys copies every admin key.
func (c *storeCopier) copyAdminKeys(ctx context.Context) error {
	keys, err := c.from.AdminKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading admin keys: %w", err)
	}
	for _, k := range keys {
		if err := count(&c.copied.AdminKeys, c.to.CreateAdminKey(ctx, k)); err != nil {
			return fmt.Errorf("admin key %s: %w", k.ID, err)
		}
	}
	return nil
}

// copyAudit copies the audit log. The log keeps events whose account no longer exists, or
// never did, which listing the accounts would miss, so the accounts to read it for are those
// its events name.
func (c *storeCopier) copyAudit(ctx context.Context) error {
	return eachPage(func(after string) ([]string, error) {
		ids, err := c.from.AuditAccountIDs(ctx, after, copyBatch)
		if err != nil {
			return nil, fmt.Errorf("reading the audit log's accounts: %w", err)
		}
		return ids, nil
	}, func(id string) string { return id }, func(id string) error { return c.copyAuditOf(ctx, id) })
}

// copyAuditOf copies the audit log of one account, newest first: each page continues before
// the oldest of the last.
func (c *storeCopier) copyAuditOf(ctx context.Context, accountID string) error {
	before := ""
	for {
		events, err := c.from.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: accountID, Before: before, Limit: copyBatch})
		if err != nil {
			return fmt.Errorf("audit log of account %s: %w", accountID, err)
		}
		for _, e := range events {
			if err := count(&c.copied.AuditEvents, c.to.RecordAudit(ctx, e)); err != nil {
				return fmt.Errorf("audit event %s: %w", e.ID, err)
			}
		}
		if len(events) < copyBatch {
			return nil
		}
		before = events[len(events)-1].ID
	}
}

// beforeEverything is a time before anything a store holds: the signing keys still published
// then, and the token denials not yet expired then, are all of them.
var beforeEverything = time.Time{}

// copySigningKeys copies every token-signing key as it is: its kid, generation and times, and
// its private key still sealed under the server secret, which the target's servers share. A
// key whose publication has ended is copied too, so that the copy is whole and the next
// generation number stays free. There are few, so they are read at once.
func (c *storeCopier) copySigningKeys(ctx context.Context) error {
	keys, err := c.from.SigningKeys(ctx, beforeEverything)
	if err != nil {
		return fmt.Errorf("reading token-signing keys: %w", err)
	}
	for _, k := range keys {
		if err := count(&c.copied.SigningKeys, c.to.CreateSigningKey(ctx, k)); err != nil {
			return fmt.Errorf("token-signing key %s: %w", k.ID, err)
		}
	}
	return nil
}

// copyTokenDenials copies the deny-list of access tokens, expired denials included, in the
// order of their ids. The target gives each a new id, in the same order: ids only order the
// denials for the nodes that read them, and a node starting on the target reads them all.
func (c *storeCopier) copyTokenDenials(ctx context.Context) error {
	var after int64
	for {
		denials, err := c.from.TokenDenials(ctx, after, beforeEverything, copyBatch)
		if err != nil {
			return fmt.Errorf("reading token denials: %w", err)
		}
		for _, d := range denials {
			row := *d
			row.ID = 0
			if err := count(&c.copied.TokenDenials, c.to.DenyTokens(ctx, &row)); err != nil {
				return fmt.Errorf("token denial %d: %w", d.ID, err)
			}
		}
		if len(denials) < copyBatch {
			return nil
		}
		after = denials[len(denials)-1].ID
	}
}

// checkCounts compares what was copied with what the source holds, so that objects the
// listing could not reach, or objects written to the source during the copy, are not lost
// without a word.
func (c *storeCopier) checkCounts(ctx context.Context) error {
	source, err := c.from.Inventory(ctx)
	if err != nil {
		return fmt.Errorf("counting what the source holds: %w", err)
	}
	var errs []error
	copied := inventoryKinds(c.copied)
	for i, held := range inventoryKinds(source) {
		if held.n != copied[i].n {
			errs = append(errs, fmt.Errorf("%s: the source holds %d, and %d were copied", held.what, held.n, copied[i].n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (was a server still writing to the source?)", errors.Join(errs...))
	}
	return nil
}

// eachPage calls fn for every item that list returns, a page at a time: list is given the id
// of the last item of the previous page, and a short page is the last.
func eachPage[T any](list func(after string) ([]T, error), id func(T) string, fn func(T) error) error {
	after := ""
	for {
		items, err := list(after)
		if err != nil {
			return err
		}
		for _, x := range items {
			if err := fn(x); err != nil {
				return err
			}
		}
		if len(items) < copyBatch {
			return nil
		}
		after = id(items[len(items)-1])
	}
}

// count adds one to *n when err is nil, and returns err.
func count(n *int, err error) error {
	if err == nil {
		*n++
	}
	return err
}
