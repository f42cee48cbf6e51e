// Package deptest holds the test that keeps Keyward's dependencies pointing inward: the
// domain imports no adapter, adapters do not import one another, and the public client
// imports nothing of ours (see docs/architecture.md). It has no code of its own.
package deptest
