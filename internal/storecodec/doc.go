// Package storecodec holds the column forms both stores write, so that a database copied
// from one to the other reads the same: the JSON of scope and permission lists, of key
// metadata and of a key's own rate limit; rate limits in whole seconds; usage minutes in Unix
// seconds; and the columns of a lineage's usage credits.
//
// It knows values, not tables: each store keeps its own SQL and its own forms for what the
// two databases hold differently (times, for one: Unix microseconds in SQLite, timestamptz in
// PostgreSQL). It imports only the domain and the standard library.
package storecodec
