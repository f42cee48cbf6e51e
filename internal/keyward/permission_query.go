package keyward

import (
	"strings"
)

// PermissionQuery is a boolean expression over permissions, asked of a key at verification:
// "api_keys.read AND (projects.p1.write OR admin)". AND binds tighter than OR; parentheses
// group; operators are case-insensitive.
type PermissionQuery struct {
	root queryNode
	text string
}

// MaxPermissionQueryLen bounds a query, so that parsing and evaluation stay cheap.
const MaxPermissionQueryLen = 1000

type queryNode struct {
	op       string // "perm", "and", "or"
	perm     string
	children []queryNode
}

// ParsePermissionQuery parses q. Errors: EValidation, naming where the query went wrong.
func ParsePermissionQuery(q string) (PermissionQuery, error) {
	if len(q) > MaxPermissionQueryLen {
		return PermissionQuery{}, Errorf(EValidation, "permissions must be at most %d characters", MaxPermissionQueryLen)
	}
	p := &queryParser{toks: tokenize(q)}
	if len(p.toks) == 0 {
		return PermissionQuery{}, Errorf(EValidation, "permissions must not be empty")
	}
	n, err := p.or(0)
	if err != nil {
		return PermissionQuery{}, err
	}
	if p.pos < len(p.toks) {
		return PermissionQuery{}, Errorf(EValidation, "permissions: unexpected %q", p.toks[p.pos])
	}
	return PermissionQuery{root: n, text: q}, nil
}

// String returns the query as it was written.
func (q PermissionQuery) String() string { return q.text }

// IsZero reports whether q is the empty query, which every key satisfies.
func (q PermissionQuery) IsZero() bool { return q.root.op == "" }

// Eval reports whether ps satisfies q.
func (q PermissionQuery) Eval(ps Permissions) bool {
	if q.IsZero() {
		return true
	}
	return q.root.eval(ps)
}

// Missing returns the permissions named in q that ps lacks, for an error message.
func (q PermissionQuery) Missing(ps Permissions) []string {
	var out []string
	var walk func(n queryNode)
	walk = func(n queryNode) {
		if n.op == "perm" {
			if !ps.Has(n.perm) {
				out = append(out, n.perm)
			}
			return
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(q.root)
	return out
}

func (n queryNode) eval(ps Permissions) bool {
	switch n.op {
	case "perm":
		return ps.Has(n.perm)
	case "and":
		for _, c := range n.children {
			if !c.eval(ps) {
				return false
			}
		}
		return true
	default: // "or"
		for _, c := range n.children {
			if c.eval(ps) {
				return true
			}
		}
		return false
	}
}

func tokenize(q string) []string {
	var toks []string
	i := 0
	for i < len(q) {
		switch c := q[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, q[i:i+1])
			i++
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n\r()", rune(q[j])) {
				j++
			}
			toks = append(toks, q[i:j])
			i = j
		}
	}
	return toks
}

// maxQueryDepth bounds parenthesis nesting, so that a hostile query cannot exhaust the stack.
const maxQueryDepth = 32

type queryParser struct {
	toks []string
	pos  int
}

func (p *queryParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *queryParser) or(depth int) (queryNode, error) {
	return p.list(depth, "or", p.and)
}

func (p *queryParser) and(depth int) (queryNode, error) {
	return p.list(depth, "and", p.term)
}

func (p *queryParser) list(depth int, op string, next func(int) (queryNode, error)) (queryNode, error) {
	first, err := next(depth)
	if err != nil {
		return queryNode{}, err
	}
	n := queryNode{op: op, children: []queryNode{first}}
	for strings.EqualFold(p.peek(), op) {
		p.pos++
		c, err := next(depth)
		if err != nil {
			return queryNode{}, err
		}
		n.children = append(n.children, c)
	}
	if len(n.children) == 1 {
		return first, nil
	}
	return n, nil
}

func (p *queryParser) term(depth int) (queryNode, error) {
	tok := p.peek()
	switch {
	case tok == "":
		return queryNode{}, Errorf(EValidation, "permissions: the query ends where a permission was expected")
	case tok == "(":
		if depth >= maxQueryDepth {
			return queryNode{}, Errorf(EValidation, "permissions: parentheses nest deeper than %d", maxQueryDepth)
		}
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return queryNode{}, err
		}
		if p.peek() != ")" {
			return queryNode{}, Errorf(EValidation, "permissions: a '(' is not closed")
		}
		p.pos++
		return n, nil
	case tok == ")", strings.EqualFold(tok, "and"), strings.EqualFold(tok, "or"):
		return queryNode{}, Errorf(EValidation, "permissions: unexpected %q where a permission was expected", tok)
	case len(tok) > MaxPermissionLen || !PermissionPattern.MatchString(tok) || strings.Contains(tok, "*"):
		return queryNode{}, Errorf(EValidation, "permissions: %q is not a permission name", tok)
	}
	p.pos++
	return queryNode{op: "perm", perm: tok}, nil
}
