package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// runTestCmd is a bare command whose output goes to the returned buffer, for the helpers
// that print what a command's call answered.
func runTestCmd(t *testing.T) (*cobra.Command, *bytes.Buffer) {
	t.Helper()
	cmd := &cobra.Command{}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetContext(t.Context())
	return cmd, &out
}

func TestRunOne(t *testing.T) {
	notFound := &client.Error{Status: 404, Code: client.CodeNotFound, Detail: "key not found"}
	explained := &cliError{msg: "already one line", err: notFound}
	tests := []struct {
		name    string
		conn    apiConn
		err     error // what the call returns
		wantOut string
		wantErr string // "" for none
		noCall  bool
	}{
		{name: "text", conn: apiConn{token: "t"}, wantOut: "answer 42\n"},
		{name: "json", conn: apiConn{token: "t", out: outputFlag{json: true}}, wantOut: "42\n"},
		{name: "no credential, no call", conn: apiConn{}, wantErr: "no credential: set KEYWARD_TOKEN", noCall: true},
		{name: "client error explained", conn: apiConn{token: "t"}, err: notFound, wantErr: "key not found (not_found, HTTP 404)"},
		{name: "explained error kept", conn: apiConn{token: "t"}, err: explained, wantErr: "already one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envKeywardToken, "")
			cmd, out := runTestCmd(t)
			called := false
			err := runOne(cmd, &tt.conn, func(ctx context.Context, kw *client.Client) (int, error) {
				called = true
				if ctx != t.Context() {
					t.Error("call got another context than the command's")
				}
				return 42, tt.err
			}, func(w io.Writer, n int) error {
				_, err := fmt.Fprintf(w, "answer %d\n", n)
				return err
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("runOne: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("runOne error = %v, want one starting %q", err, tt.wantErr)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("runOne error does not unwrap to the call's")
			}
			if called == tt.noCall {
				t.Errorf("call made = %v, want %v", called, !tt.noCall)
			}
			if tt.wantErr != "" {
				tt.wantOut = ""
			}
			if got := out.String(); got != tt.wantOut {
				t.Errorf("output = %q, want %q", got, tt.wantOut)
			}
		})
	}
}

func TestRunEach(t *testing.T) {
	refused := &client.Error{Status: 409, Code: client.CodeConflict, Detail: "in use"}
	tests := []struct {
		name     string
		json     bool
		failOn   string // the ID whose call fails; "" for none
		wantOut  string
		wantErr  string
		wantSeen []string
	}{
		{name: "all done", wantOut: "Gone a.\nGone b.\n", wantSeen: []string{"a", "b"}},
		{name: "json prints nothing", json: true, wantOut: "", wantSeen: []string{"a", "b"}},
		{name: "stops at the first failure", failOn: "a", wantErr: "dropping a: in use (conflict, HTTP 409)", wantSeen: []string{"a"}},
		{name: "says what was done before the failure", failOn: "b", wantOut: "Gone a.\n",
			wantErr: "dropping b: in use (conflict, HTTP 409)", wantSeen: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, out := runTestCmd(t)
			conn := &apiConn{token: "t", out: outputFlag{json: tt.json}}
			var seen []string
			err := runEach(cmd, conn, []string{"a", "b"}, "dropping", func(_ context.Context, _ *client.Client, id string) error {
				seen = append(seen, id)
				if id == tt.failOn {
					return refused
				}
				return nil
			}, func(id string) string { return "Gone " + id + "." })
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("runEach error = %q, want %q", gotErr, tt.wantErr)
			}
			if got := out.String(); got != tt.wantOut {
				t.Errorf("output = %q, want %q", got, tt.wantOut)
			}
			if fmt.Sprint(seen) != fmt.Sprint(tt.wantSeen) {
				t.Errorf("calls for %v, want %v", seen, tt.wantSeen)
			}
		})
	}
}
