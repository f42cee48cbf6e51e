package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxPageSize is the largest page the server returns; a larger ListParams.Limit is refused.
const MaxPageSize = 200

// Page is one page of a list and the cursor of the next.
type Page[T any] struct {
	// Items are the page's objects, in the server's order; never nil.
	Items []T
	// NextCursor fetches the following page when passed back as the Cursor parameter; it is ""
	// on the last page.
	NextCursor string
}

// ListParams pages through a list.
type ListParams struct {
	// Limit is the page size, 1..MaxPageSize; 0 lets the server choose.
	Limit int
	// Cursor is a previous page's NextCursor; "" starts at the beginning.
	Cursor string
}

func (p ListParams) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// listPage fetches one page of a JSON array and its next cursor.
func listPage[T any](ctx context.Context, c *Client, path string, q url.Values) (*Page[T], error) {
	var items []T
	h, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, auth: true}, &items)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return &Page[T]{Items: items, NextCursor: nextCursor(h)}, nil
}

// nextCursor reads the cursor of the next page: X-Next-Cursor, else the cursor parameter of
// the Link header's rel="next" target.
func nextCursor(h http.Header) string {
	if c := h.Get("X-Next-Cursor"); c != "" {
		return c
	}
	for _, field := range h.Values("Link") {
		for link := range strings.SplitSeq(field, ",") {
			target, params, ok := strings.Cut(link, ";")
			if !ok || !hasNextRel(params) {
				continue
			}
			target = strings.Trim(strings.TrimSpace(target), "<>")
			u, err := url.Parse(target)
			if err != nil {
				continue
			}
			if c := u.Query().Get("cursor"); c != "" {
				return c
			}
		}
	}
	return ""
}

func hasNextRel(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(value), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}

// all follows cursors from start, yielding every item; the first error is yielded once and
// ends the sequence.
func all[T any](ctx context.Context, start string, fetch func(ctx context.Context, cursor string) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := start
		for {
			page, err := fetch(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range page.Items {
				if !yield(item, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			if page.NextCursor == cursor {
				// A server that hands back the cursor it was given would loop us forever.
				var zero T
				yield(zero, fmt.Errorf("keyward: server returned the same next cursor %q twice", cursor))
				return
			}
			cursor = page.NextCursor
		}
	}
}
