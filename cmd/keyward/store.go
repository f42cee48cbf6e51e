package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/postgres"
	"github.com/keyward/keyward/internal/sqlite"
)

// openedStore is the store a configuration names, opened, with the server secret that
// hashes its keys.
type openedStore struct {
	store   keyward.Store
	pg      *postgres.Store // store, when it is PostgreSQL; nil for SQLite
	secrets []keyformat.Secret
	hasher  *keyformat.Hasher
}

// openStore opens the store cfg names: the PostgreSQL database of --database, or SQLite in
// the data directory, with the server secret. With create (serve) a new data directory, its
// database and its secret are made; without it (the commands that work on a server's store)
// a data directory holding no database is refused, since a mistyped --data would otherwise
// get a new, empty store and the command would change nothing the server serves.
func openStore(ctx context.Context, cfg *config.Config, create bool) (openedStore, error) {
	var s openedStore
	if !cfg.UsesPostgres() {
		if create {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return s, fmt.Errorf("creating data directory: %w", err)
			}
		} else if _, err := os.Stat(cfg.DatabasePath()); err != nil {
			return s, fmt.Errorf("no Keyward database at %s: start 'keyward serve' once first, or pass the --data of the running server", cfg.DatabasePath())
		}
	}
	var err error
	if s.secrets, err = cfg.LoadOrCreateSecrets(); err != nil {
		return s, err
	}
	if s.hasher, err = keyformat.NewHasher(s.secrets...); err != nil {
		return s, err
	}
	if cfg.UsesPostgres() {
		if s.pg, err = postgres.Open(ctx, cfg.Database); err != nil {
			return s, fmt.Errorf("opening %s: %w", cfg.RedactedDatabase(), err)
		}
		s.store = s.pg
		return s, nil
	}
	if s.store, err = sqlite.Open(ctx, cfg.DatabasePath()); err != nil {
		return s, fmt.Errorf("opening %s: %w", cfg.DatabasePath(), err)
	}
	return s, nil
}
