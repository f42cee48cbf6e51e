package keyward

import (
	"slices"
	"strings"
	"testing"
)

func TestCovers(t *testing.T) {
	tests := []struct {
		granted, wanted string
		want            bool
	}{
		{"api_keys.read", "api_keys.read", true},
		{"api_keys.read", "api_keys.create", false},
		{"api_keys.*", "api_keys.read", true},
		{"api_keys.*", "api_keys.own.create", true},
		{"api_keys.*", "api_keys", false},
		{"api_keys.*", "api_keys.*", true},
		{"api_keys.read", "api_keys.*", false},
		{"api_keys.*", "api_keys.own.*", true},
		{"api_keys.own.*", "api_keys.*", false},
		{"*", "anything.at.all", true},
		{"*", "system.accounts.create", false},
		{"system.*", "system.accounts.create", true},
		{"projects.*.read", "projects.p1.read", true},
		{"projects.*.read", "projects.p1.write", false},
		{"projects.*.read", "projects.read", false},
		{"projects.*.read", "projects.*.read", true},
		{"projects.*.read", "projects.*", false},
		{"projects.p1.*", "projects.p1.api_keys.read", true},
		{"projects.p1.*", "projects.p2.read", false},
		{"account.read", "account.read.extra", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.granted, tt.wanted); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.granted, tt.wanted, got, tt.want)
		}
	}
}

func TestAllowsInProject(t *testing.T) {
	// A viewer role held on project p1, and api_keys.create account-wide.
	ps := append(inProject("p1", BuiltInRole(RoleViewer).Permissions), PermKeysCreate)
	tests := []struct {
		perm, project string
		want          bool
	}{
		{PermProjectsRead, "p1", true},
		{PermProjectsRead, "p2", false},
		{PermProjectsRead, "", false},
		{PermKeysRead, "p1", true},
		{PermKeysRead, "p2", false},
		{PermKeysCreate, "p2", true},
		{PermKeysCreate, "", true},
		{PermProjectsWrite, "p1", false},
		// Account-wide permissions held through a project role grant nothing.
		{PermUsersRead, "p1", false},
		{PermAccountRead, "p1", false},
	}
	for _, tt := range tests {
		if got := ps.Allows(tt.perm, tt.project); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v (grants %v)", tt.perm, tt.project, got, tt.want, ps)
		}
	}
	if got := InProject("p1", "*"); got != "projects.p1.*" {
		t.Errorf("InProject(*) = %q", got)
	}
}

func TestIntersectNeverWidens(t *testing.T) {
	key := Permissions{"api_keys.*", "projects.p1.read", "audit.read"}
	user := Permissions{"api_keys.read", "projects.*", "roles.read"}
	got := Intersect(key, user)
	for _, p := range []string{"api_keys.read", "projects.p1.read"} {
		if !got.Has(p) {
			t.Errorf("Intersect lost %s: %v", p, got)
		}
	}
	for _, p := range []string{"api_keys.create", "audit.read", "roles.read", "projects.p2.read"} {
		if got.Has(p) {
			t.Errorf("Intersect grants %s, which one side lacks: %v", p, got)
		}
	}
}

func TestCoveredBy(t *testing.T) {
	if missing, ok := CoveredBy(Permissions{"api_keys.read", "api_keys.own.create"}, Permissions{"api_keys.*"}); !ok {
		t.Errorf("api_keys.* should cover both, missing %s", missing)
	}
	if missing, ok := CoveredBy(Permissions{"api_keys.read", "audit.read"}, Permissions{"api_keys.*"}); ok || missing != "audit.read" {
		t.Errorf("CoveredBy = %q, %v; want audit.read missing", missing, ok)
	}
}

func TestPermissionQuery(t *testing.T) {
	ps := Permissions{"api_keys.read", "projects.p1.*"}
	tests := []struct {
		q    string
		want bool
	}{
		{"api_keys.read", true},
		{"api_keys.read AND (projects.p1.write OR admin)", true},
		{"api_keys.read and (projects.p2.write or admin)", false},
		{"admin OR api_keys.read", true},
		{"admin OR api_keys.read AND audit.read", false},
		{"(admin OR api_keys.read) AND projects.p1.read", true},
		{"((api_keys.read))", true},
	}
	for _, tt := range tests {
		q, err := ParsePermissionQuery(tt.q)
		if err != nil {
			t.Errorf("ParsePermissionQuery(%q): %v", tt.q, err)
			continue
		}
		if got := q.Eval(ps); got != tt.want {
			t.Errorf("%q on %v = %v, want %v", tt.q, ps, got, tt.want)
		}
	}
	q, _ := ParsePermissionQuery("api_keys.read AND audit.read AND admin")
	if got := q.Missing(ps); !slices.Equal(got, []string{"audit.read", "admin"}) {
		t.Errorf("Missing = %v", got)
	}
}

func TestPermissionQueryErrors(t *testing.T) {
	for _, q := range []string{
		"", "   ", "AND", "a AND", "a OR OR b", "(a", "a)", "a b", "api_keys.*", "a AND (b OR c",
		"bad/char", strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), strings.Repeat("a OR ", 300) + "a",
	} {
		if _, err := ParsePermissionQuery(q); ErrorCode(err) != EValidation {
			t.Errorf("ParsePermissionQuery(%.40q) = %v, want a validation error", q, err)
		}
	}
}

func FuzzParsePermissionQuery(f *testing.F) {
	for _, s := range []string{"a AND (b OR c)", "((a))", "a OR", ")(", "a.b.c and d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParsePermissionQuery(s)
		if err != nil {
			return
		}
		q.Eval(Permissions{"*"})
		q.Missing(nil)
	})
}
