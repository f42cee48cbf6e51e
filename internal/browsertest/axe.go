package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's browser bundle; axe/README.md says which version and how to update it.
//
//go:embed axe/axe.min.js
var axeSource string

// AxeTags are the rule sets Axe runs: WCAG 2.0 A and AA, and WCAG 2.1 AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21aa"}

// Violation is one axe-core rule that the page fails.
type Violation struct {
	ID      string `json:"id"`     // the rule, e.g. "image-alt"
	Impact  string `json:"impact"` // "minor", "moderate", "serious" or "critical"
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []Node `json:"nodes"`
}

// Node is one element that fails a rule.
type Node struct {
	// Target is the element's CSS selector; inside an iframe or a shadow root, one selector
	// per document, outermost first.
	Target         []string `json:"target"`
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
}

func (v Violation) String() string {
	var targets []string
	for _, n := range v.Nodes {
		targets = append(targets, strings.Join(n.Target, " >>> "))
	}
	return fmt.Sprintf("%s (%s): %s [%s] %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "), v.HelpURL)
}

// SeriousViolations returns the violations whose impact is serious or critical.
func SeriousViolations(vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// axeRun runs axe on the whole document and keeps only what Violation holds, so that the
// answer stays small. A node's target is a selector, or for a node inside iframes or shadow
// roots a list of them (or of lists, for nested shadow roots); flatten them to strings.
const axeRun = `(async () => {
	const flat = t => Array.isArray(t) ? t.map(x => Array.isArray(x) ? x.join(" ") : String(x)) : [String(t)];
	const r = await axe.run(document, {runOnly: {type: "tag", values: %s}, resultTypes: ["violations"]});
	return r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target.flatMap(flat), html: n.html, failureSummary: n.failureSummary || ""})),
	}));
})()`

// Axe runs axe-core's WCAG 2.0 A/AA and 2.1 AA rules on the current page and returns the
// violations (failures are reported on t, which may be a subtest of the tab's test).
//
// axe-core is put into the page with Runtime.evaluate, as DevTools' console does, not with a
// <script> element: the page's Content-Security-Policy governs the page's own scripts, and a
// strict one (script-src 'self') would block an injected element, but not the evaluation (the
// tests check this on such a page). The script is evaluated again on every call, since a
// navigation drops it.
func (tab *Tab) Axe(t testing.TB) []Violation {
	t.Helper()
	tags, _ := json.Marshal(AxeTags)
	ctx, cancel := context.WithTimeout(tab.ctx, ActionTimeout)
	defer cancel()
	vs, err := chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) ([]Violation, error) {
		res, err := cdp.Call(ctx, target, runtime.Evaluate, runtime.EvaluateParams{
			Expression: axeSource, Silent: ptr(true),
		})
		if err != nil {
			return nil, fmt.Errorf("injecting axe-core: %w", err)
		}
		if res.ExceptionDetails != nil {
			return nil, fmt.Errorf("injecting axe-core: %w", &chromedp.ExceptionError{ExceptionDetails: res.ExceptionDetails})
		}
		return chromedp.Evaluate[[]Violation](fmt.Sprintf(axeRun, tags), chromedp.EvalAwaitPromise)(ctx, target)
	})
	if err != nil {
		t.Fatalf("browsertest: axe: %v", err)
	}
	return vs
}

func ptr[T any](v T) *T { return &v }
