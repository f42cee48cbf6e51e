package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const signingKeyColumns = `id, generation, algorithm, public_jwk, private_key, secret_version, created_at, not_before, sign_until, publish_until`

// CreateSigningKey inserts k. Errors: EConflict if its id or generation is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k *keyward.SigningKey) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Generation, k.Algorithm, k.PublicJWK, k.PrivateKey, k.SecretVersion,
		ts(k.CreatedAt), ts(k.NotBefore), ts(k.SignUntil), ts(k.PublishUntil))
	return writeError(err, "signing key "+k.ID, violations{
		"signing_keys_generation_key": conflict("a signing key of generation %d already exists", k.Generation),
		"signing_keys_pkey":           conflict("signing key %s already exists", k.ID),
	})
}

// SigningKeys returns the keys still published at now, by generation.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]*keyward.SigningKey, error) {
	return query(ctx, s.db(), func(row pgx.Row) (*keyward.SigningKey, error) {
		var k keyward.SigningKey
		if err := row.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PublicJWK, &k.PrivateKey, &k.SecretVersion,
			&k.CreatedAt, &k.NotBefore, &k.SignUntil, &k.PublishUntil); err != nil {
			return nil, err
		}
		k.CreatedAt, k.NotBefore, k.SignUntil, k.PublishUntil = k.CreatedAt.UTC(), k.NotBefore.UTC(), k.SignUntil.UTC(), k.PublishUntil.UTC()
		return &k, nil
	}, "signing keys", `SELECT `+signingKeyColumns+` FROM signing_keys WHERE publish_until > $1 ORDER BY generation`, ts(now))
}

// DenyTokens inserts d and sets its ID.
func (s *Store) DenyTokens(ctx context.Context, d *keyward.TokenDenial) error {
	if (d.TokenID == "") == (d.KeyID == "") {
		return keyward.Errorf(keyward.EValidation, "a token denial names either a token or a key")
	}
	err := s.db().QueryRow(ctx,
		`INSERT INTO token_denials (token_id, key_id, from_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		nullString(d.TokenID), nullString(d.KeyID), ts(d.From), ts(d.ExpiresAt)).Scan(&d.ID)
	return writeError(err, "token denial", nil)
}

// TokenDenials returns up to limit unexpired denials with id > afterID, by id.
func (s *Store) TokenDenials(ctx context.Context, afterID int64, now time.Time, limit int) ([]*keyward.TokenDenial, error) {
	return query(ctx, s.db(), func(row pgx.Row) (*keyward.TokenDenial, error) {
		var d keyward.TokenDenial
		if err := row.Scan(&d.ID, &d.TokenID, &d.KeyID, &d.From, &d.ExpiresAt); err != nil {
			return nil, err
		}
		d.From, d.ExpiresAt = d.From.UTC(), d.ExpiresAt.UTC()
		return &d, nil
	}, "token denials", `SELECT id, coalesce(token_id, ''), coalesce(key_id, ''), from_at, expires_at FROM token_denials
		WHERE id > $1 AND expires_at > $2 ORDER BY id LIMIT $3`, afterID, ts(now), limit)
}

// PruneTokenDenials deletes the denials that expired before before.
func (s *Store) PruneTokenDenials(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.db().Exec(ctx, `DELETE FROM token_denials WHERE expires_at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune token denials: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
