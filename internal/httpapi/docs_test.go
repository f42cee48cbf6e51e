package httpapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/httpapi"
)

// TestAPIDocListsEveryRoute holds docs/api.md's route table to the served document: every
// method and path the document describes has a row that names it, as `METHOD /path` (or
// "any method `/path`" for a route that answers every method).
func TestAPIDocListsEveryRoute(t *testing.T) {
	e := newEnv(t)
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.SplitSeq(string(md), "\n") {
		if strings.HasPrefix(line, "| `") || strings.HasPrefix(line, "| any method") {
			rows = append(rows, line)
		}
	}
	anyMethod := map[string]bool{}
	for _, rt := range e.server.Routes() {
		if rt.Method == httpapi.AnyMethod {
			anyMethod[rt.Path] = true
		}
	}
	listed := func(want string) bool {
		for _, r := range rows {
			if strings.Contains(r, want) {
				return true
			}
		}
		return false
	}
	n := 0
	for path, item := range e.server.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			n++
			if anyMethod[path] {
				if !listed("any method `" + path + "`") {
					t.Errorf("docs/api.md's route table has no row for any method `%s`", path)
				}
				continue
			}
			if !listed("`" + op.Method + " " + path + "`") {
				t.Errorf("docs/api.md's route table has no row for `%s %s`", op.Method, path)
			}
		}
	}
	for _, p := range []string{"/openapi.json", "/openapi.yaml", "/openapi-3.0.json", "/openapi-3.0.yaml", "/docs"} {
		if !listed("`GET " + p + "`") {
			t.Errorf("docs/api.md's route table has no row for `GET %s`", p)
		}
	}
	if n == 0 {
		t.Fatal("the document describes no operation")
	}
}

// TestAuthDocListsEveryPermission holds docs/auth.md's permission table to the permissions
// Keyward's routes check: every Perm constant of internal/keyward has a row naming it.
func TestAuthDocListsEveryPermission(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.SplitSeq(string(md), "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "keyward", "permission.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Perm") {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		perm, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		n++
		// A row names it in the table's first column.
		for _, r := range rows {
			first, _, _ := strings.Cut(strings.TrimPrefix(r, "| "), " |")
			if strings.Contains(first, "`"+perm+"`") {
				return true
			}
		}
		t.Errorf("docs/auth.md's permission table has no row for %s (%s)", perm, vs.Names[0].Name)
		return true
	})
	if n < 10 {
		t.Fatalf("found %d permissions in internal/keyward/permission.go; the parse is wrong", n)
	}
}
