package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testProjectJSON = `{"id":"prj_1","account_id":"acc_1","name":"payments","key_prefix":"pay","leak_policy":null,"created_at":"2026-01-02T03:04:05Z"}`

func TestProjectsCreate(t *testing.T) {
	rec := newWireRecorder(t, 201, "application/json", testProjectJSON)
	useServer(t, rec.URL)

	stdout, _, err := cliRun(t, "projects", "create", "--name", "payments", "--key-prefix", "pay")
	if err != nil {
		t.Fatal(err)
	}
	want := "Created project prj_1.\n\n" +
		"ID     NAME      KEY PREFIX  CREATED\n" +
		"prj_1  payments  pay         2026-01-02T03:04:05Z\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	wantReq := seenRequest{Method: "POST", Path: "/v1/projects", Auth: "Bearer kwadmin_test",
		Body: map[string]any{"name": "payments", "key_prefix": "pay"}}
	if diff := cmp.Diff([]seenRequest{wantReq}, rec.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}

	stdout, _, err = cliRun(t, "projects", "create", "--name", "payments", "--json")
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, testProjectJSON, stdout)
	if body := rec.requests()[1].Body; cmp.Diff(map[string]any{"name": "payments"}, body) != "" {
		t.Errorf("body without --key-prefix = %v, want only the name", body)
	}
}

func TestProjectsListAllFollowsCursors(t *testing.T) {
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("X-Next-Cursor", "p2")
			io.WriteString(w, "["+testProjectJSON+"]")
			return
		}
		io.WriteString(w, `[{"id":"prj_2","account_id":"acc_1","name":"search","key_prefix":"kw","leak_policy":"notify","created_at":"2026-01-02T03:04:05Z"}]`)
	}))
	defer srv.Close()
	useServer(t, srv.URL)

	stdout, stderr, err := cliRun(t, "projects", "list", "--all", "--limit", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, "["+testProjectJSON+`,{"id":"prj_2","account_id":"acc_1","name":"search","key_prefix":"kw","leak_policy":"notify","created_at":"2026-01-02T03:04:05Z"}]`, stdout)
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"limit=1", "cursor=p2&limit=1"}, queries); diff != "" {
		t.Errorf("queries mismatch (-want +got):\n%s", diff)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing when every page was listed", stderr)
	}
}

func TestEnvironments(t *testing.T) {
	envJSON := `{"id":"env_1","account_id":"acc_1","project_id":"prj 1","name":"production","created_at":"2026-01-02T03:04:05Z"}`
	tests := []struct {
		name       string
		args       []string
		status     int
		response   string
		wantReq    seenRequest
		wantStdout string
	}{
		{
			name:     "create",
			args:     []string{"environments", "create", "--project", "prj 1", "--name", "production"},
			status:   201,
			response: envJSON,
			wantReq: seenRequest{Method: "POST", Path: "/v1/projects/prj 1/environments", Auth: "Bearer kwadmin_test",
				Body: map[string]any{"name": "production"}},
			wantStdout: "Created environment env_1 in project prj 1.\n\n" +
				"ID     NAME        PROJECT  CREATED\n" +
				"env_1  production  prj 1    2026-01-02T03:04:05Z\n",
		},
		{
			name:       "list",
			args:       []string{"env", "ls", "--project", "prj_1", "--limit", "5"},
			status:     200,
			response:   "[]",
			wantReq:    seenRequest{Method: "GET", Path: "/v1/projects/prj_1/environments", Query: "limit=5", Auth: "Bearer kwadmin_test"},
			wantStdout: "No environments in project prj_1.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newWireRecorder(t, tt.status, "application/json", tt.response)
			useServer(t, rec.URL)
			stdout, _, err := cliRun(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]seenRequest{tt.wantReq}, rec.requests()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStdout, stdout); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientCommandsHaveHelp(t *testing.T) {
	root := newTestRoot()
	var missing []string
	for _, top := range root.Commands() {
		for _, c := range append(top.Commands(), top) {
			if c.Short == "" || c.Long == "" || c.Example == "" {
				missing = append(missing, c.CommandPath())
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("commands without Short, Long or Example: %s", strings.Join(missing, ", "))
	}
	var names []string
	for _, c := range root.Commands() {
		names = append(names, c.Name())
	}
	want := []string{"accounts", "audit", "environments", "keys", "members", "projects", "roles", "users", "webhooks", "whoami"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("addClientCommands added other commands (-want +got):\n%s", diff)
	}
}
