package httpapi

import (
	"encoding/base64"
	"net/url"

	"github.com/keyward/keyward/internal/keyward"
)

// PageParams is the pagination part of a list request. (Exported, like the other parameter
// structs, because huma fills embedded structs only through exported fields.)
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" maxLength:"200" doc:"Opaque cursor from a previous page's X-Next-Cursor header."`
}

// PageHeaders are the pagination part of a list response. The body stays a bare array, as
// seed 001 shows it; the next page is announced in headers.
type PageHeaders struct {
	NextCursor string `header:"X-Next-Cursor" doc:"Present when there are more items: pass it as cursor."`
	Link       string `header:"Link" doc:"RFC 8288 link to the next page."`
}

func (q PageParams) page() (keyward.Page, error) {
	if q.Cursor == "" {
		return keyward.Page{Limit: q.Limit}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || !keyward.ValidID(string(raw)) {
		return keyward.Page{}, keyward.Errorf(keyward.EInvalid, "cursor is not one this server issued")
	}
	return keyward.Page{After: string(raw), Limit: q.Limit}, nil
}

// listInput is the query of a list that has only paging.
type listInput struct {
	PageParams
}

// mapSlice converts each of items for the wire.
func mapSlice[T, J any](items []T, convert func(T) J) []J {
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = convert(it)
	}
	return out
}

// nextPage fills the pagination headers for a page that continues after lastID.
func nextPage(path string, query url.Values, limit int, lastID string) PageHeaders {
	if lastID == "" {
		return PageHeaders{}
	}
	cursor := base64.RawURLEncoding.EncodeToString([]byte(lastID))
	q := url.Values{}
	for k, vs := range query {
		for _, v := range vs {
			if v != "" {
				q.Add(k, v)
			}
		}
	}
	q.Set("cursor", cursor)
	if limit > 0 {
		q.Set("limit", itoa(limit))
	}
	return PageHeaders{NextCursor: cursor, Link: "<" + path + "?" + q.Encode() + `>; rel="next"`}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
