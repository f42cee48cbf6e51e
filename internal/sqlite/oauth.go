package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

const signingKeyColumns = `id, generation, algorithm, public_jwk, private_key, secret_version, created_at, not_before, sign_until, publish_until`

// CreateSigningKey inserts k. Errors: EConflict if its id or generation is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k *keyward.SigningKey) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Generation, k.Algorithm, k.PublicJWK, k.PrivateKey, k.SecretVersion,
		micros(k.CreatedAt), micros(k.NotBefore), micros(k.SignUntil), micros(k.PublishUntil))
	if err != nil {
		return insertError(err, "signing key", k.ID, "signing_keys.generation", fmt.Sprintf("a signing key of generation %d already exists", k.Generation))
	}
	return nil
}

// SigningKeys returns the keys still published at now, by generation.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]*keyward.SigningKey, error) {
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+signingKeyColumns+` FROM signing_keys WHERE publish_until > ? ORDER BY generation`, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	defer rows.Close()
	var out []*keyward.SigningKey
	for rows.Next() {
		var (
			k                                        keyward.SigningKey
			created, notBefore, signUntil, published int64
		)
		if err := rows.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PublicJWK, &k.PrivateKey, &k.SecretVersion,
			&created, &notBefore, &signUntil, &published); err != nil {
			return nil, fmt.Errorf("sqlite: signing keys: %w", err)
		}
		k.CreatedAt, k.NotBefore, k.SignUntil, k.PublishUntil = fromMicros(created), fromMicros(notBefore), fromMicros(signUntil), fromMicros(published)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	return out, nil
}

// DenyTokens inserts d and sets its ID.
func (s *Store) DenyTokens(ctx context.Context, d *keyward.TokenDenial) error {
	if (d.TokenID == "") == (d.KeyID == "") {
		return keyward.Errorf(keyward.EValidation, "a token denial names either a token or a key")
	}
	res, err := s.writer().ExecContext(ctx,
		`INSERT INTO token_denials (token_id, key_id, from_at, expires_at) VALUES (?, ?, ?, ?)`,
		nullString(d.TokenID), nullString(d.KeyID), micros(d.From), micros(d.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: deny tokens: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: deny tokens: %w", err)
	}
	d.ID = id
	return nil
}

// TokenDenials returns up to limit unexpired denials with id > afterID, by id.
func (s *Store) TokenDenials(ctx context.Context, afterID int64, now time.Time, limit int) ([]*keyward.TokenDenial, error) {
	rows, err := s.reader().QueryContext(ctx,
		`SELECT id, coalesce(token_id, ''), coalesce(key_id, ''), from_at, expires_at FROM token_denials
		 WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?`, afterID, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: token denials: %w", err)
	}
	defer rows.Close()
	var out []*keyward.TokenDenial
	for rows.Next() {
		var (
			d             keyward.TokenDenial
			from, expires int64
		)
		if err := rows.Scan(&d.ID, &d.TokenID, &d.KeyID, &from, &expires); err != nil {
			return nil, fmt.Errorf("sqlite: token denials: %w", err)
		}
		d.From, d.ExpiresAt = fromMicros(from), fromMicros(expires)
		out = append(out, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: token denials: %w", err)
	}
	return out, nil
}

// PruneTokenDenials deletes the denials that expired before before.
func (s *Store) PruneTokenDenials(ctx context.Context, before time.Time) (int, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM token_denials WHERE expires_at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune token denials: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune token denials: %w", err)
	}
	return int(n), nil
}
