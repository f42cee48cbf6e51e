package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testProjectRoundTrip(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	want := &keyward.Project{
		ID:        keyward.NewID(),
		AccountID: a.ID,
		Name:      "Payments API",
		KeyPrefix: "sk_live",
		CreatedAt: base,
	}
	if err := s.CreateProject(t.Context(), want); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	got, err := s.Project(t.Context(), a.ID, want.ID)
	if err != nil {
		t.Fatalf("Project: %v", err)
	}
	wantSame(t, "Project", got, want)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("Project: CreatedAt: got location %v, want UTC", got.CreatedAt.Location())
	}
}

func testProjectNameTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	first := newProject(t, s, a.ID)

	tests := []struct {
		name      string
		accountID string
		want      keyward.Code
	}{
		{"same account", a.ID, keyward.EConflict},
		{"another account", b.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &keyward.Project{ID: keyward.NewID(), AccountID: tt.accountID, Name: first.Name, KeyPrefix: "kw", CreatedAt: base}
			wantCode(t, "CreateProject", s.CreateProject(ctx, p), tt.want)
		})
	}
	got, err := s.Project(ctx, a.ID, first.ID)
	if err != nil {
		t.Fatalf("Project: %v", err)
	}
	wantSame(t, "Project after the conflict", got, first)
}

func testProjectNotFound(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	p := newProject(t, s, a.ID)
	tests := []struct {
		name, accountID, id string
	}{
		{"unknown id", a.ID, keyward.NewID()},
		{"another account's", b.ID, p.ID},
		{"unknown account", keyward.NewID(), p.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Project(t.Context(), tt.accountID, tt.id)
			wantCode(t, "Project", err, keyward.ENotFound)
		})
	}
}

func testListProjects(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.Project{}
	for i, id := range createOrder {
		p := &keyward.Project{ID: id, AccountID: a.ID, Name: fmt.Sprintf("project %d", i), KeyPrefix: "kw", CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.CreateProject(ctx, p); err != nil {
			t.Fatalf("CreateProject: %v", err)
		}
		byID[id] = p
	}
	newProject(t, s, b.ID)
	newProject(t, s, b.ID)

	list := func(accountID string) func(after string, limit int) ([]*keyward.Project, error) {
		return func(after string, limit int) ([]*keyward.Project, error) {
			return s.ListProjects(ctx, accountID, after, limit)
		}
	}
	id := func(p *keyward.Project) string { return p.ID }
	wantSame(t, "pages of 3", pages(t, 3, id, list(a.ID)), chunk(ids, 3))

	all, err := s.ListProjects(ctx, a.ID, "", 100)
	if err != nil {
		t.Fatalf("ListProjects: %v", err)
	}
	var want []*keyward.Project
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListProjects", all, want)

	wantNone(t, "ListProjects of an unknown account", func() (int, error) {
		got, err := s.ListProjects(ctx, keyward.NewID(), "", 100)
		return len(got), err
	})
}

func testEnvironmentRoundTrip(t *testing.T, s keyward.Store) {
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	want := &keyward.Environment{ID: keyward.NewID(), AccountID: a.ID, ProjectID: p.ID, Name: "production", CreatedAt: base}
	if err := s.CreateEnvironment(t.Context(), want); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	got, err := s.Environment(t.Context(), a.ID, want.ID)
	if err != nil {
		t.Fatalf("Environment: %v", err)
	}
	wantSame(t, "Environment", got, want)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("Environment: CreatedAt: got location %v, want UTC", got.CreatedAt.Location())
	}
}

func testEnvironmentNameTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	first := newEnvironment(t, s, p1)

	tests := []struct {
		name    string
		project *keyward.Project
		want    keyward.Code
	}{
		{"same project", p1, keyward.EConflict},
		{"another project", p2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &keyward.Environment{ID: keyward.NewID(), AccountID: a.ID, ProjectID: tt.project.ID, Name: first.Name, CreatedAt: base}
			wantCode(t, "CreateEnvironment", s.CreateEnvironment(ctx, e), tt.want)
		})
	}
	got, err := s.Environment(ctx, a.ID, first.ID)
	if err != nil {
		t.Fatalf("Environment: %v", err)
	}
	wantSame(t, "Environment after the conflict", got, first)
}

func testEnvironmentNotFound(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	e := newEnvironment(t, s, newProject(t, s, a.ID))
	tests := []struct {
		name, accountID, id string
	}{
		{"unknown id", a.ID, keyward.NewID()},
		{"another account's", b.ID, e.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Environment(t.Context(), tt.accountID, tt.id)
			wantCode(t, "Environment", err, keyward.ENotFound)
		})
	}
}

func testListEnvironments(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.Environment{}
	for i, id := range createOrder {
		e := &keyward.Environment{ID: id, AccountID: a.ID, ProjectID: p.ID, Name: fmt.Sprintf("environment %d", i), CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.CreateEnvironment(ctx, e); err != nil {
			t.Fatalf("CreateEnvironment: %v", err)
		}
		byID[id] = e
	}
	newEnvironment(t, s, other)
	newEnvironment(t, s, newProject(t, s, b.ID))

	list := func(accountID, projectID string) func(after string, limit int) ([]*keyward.Environment, error) {
		return func(after string, limit int) ([]*keyward.Environment, error) {
			return s.ListEnvironments(ctx, accountID, projectID, after, limit)
		}
	}
	id := func(e *keyward.Environment) string { return e.ID }
	wantSame(t, "pages of 3", pages(t, 3, id, list(a.ID, p.ID)), chunk(ids, 3))

	all, err := list(a.ID, p.ID)("", 100)
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	var want []*keyward.Environment
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListEnvironments", all, want)

	// Another account names the project: it sees nothing of it.
	wantNone(t, "ListEnvironments in another account", func() (int, error) {
		got, err := list(b.ID, p.ID)("", 100)
		return len(got), err
	})
}

// wantNone fails the test unless list succeeds and finds nothing.
func wantNone(t *testing.T, what string, list func() (int, error)) {
	t.Helper()
	n, err := list()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if n != 0 {
		t.Errorf("%s: got %d items, want 0", what, n)
	}
}
