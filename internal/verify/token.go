package verify

import (
	"context"
	"crypto/sha256"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
)

// TokenVerifier checks Keyward's own access tokens locally; *oauth.Tokens is one.
type TokenVerifier interface {
	// Owns reports whether a JWT is, by its issuer, one of Keyward's tokens.
	Owns(token string) bool
	// Verify checks the token's signature, claims, expiry and the deny-list, and returns it
	// with VerifyValid, or why not (MALFORMED, EXPIRED, REVOKED).
	Verify(ctx context.Context, token string) (*keyward.AccessToken, keyward.VerifyCode)
}

// looksLikeJWT reports whether s has a JWT's three dot-separated parts. An API key never
// contains a dot, so the two cannot be confused, and a key costs one scan for a dot.
func looksLikeJWT(s string) bool {
	return strings.IndexByte(s, '.') > 0 && strings.Count(s, ".") == 2
}

// checkToken judges one of Keyward's access tokens. The token carries its key's identity as
// it was when issued; the key, as it is now, is read through the cache by id (invalidated
// with the cache by hash, on every node), so that revoking the key, disabling its user or
// narrowing its role reaches the token within the second that takes.
func (v *Verifier) checkToken(ctx context.Context, token string, req Requirements) (Result, error) {
	tok, code := v.tokens.Verify(ctx, token)
	if code != keyward.VerifyValid {
		v.stats.outcome(code)
		return Result{Code: code, Token: tok}, nil
	}
	now := v.now()
	snap, err := v.keyByID(ctx, tok.AccountID, tok.ClientID)
	if err != nil {
		return Result{}, err
	}
	if snap == nil {
		v.stats.outcome(keyward.VerifyRevoked)
		return Result{Code: keyward.VerifyRevoked, Token: tok}, nil
	}
	res := Result{Key: snap.key, Identity: snap.identity, Token: tok}
	// The key's own state first. A key that ended (revoked, expired, past its grace) ended
	// its tokens, which are REVOKED, as the deny-list says of them once it hears; a disabled
	// user makes them DISABLED.
	switch res.Code = snap.key.Verdict(now, snap.identity, req.ClientIP, nil, keyward.PermissionQuery{}); res.Code {
	case keyward.VerifyRevoked, keyward.VerifyExpired:
		res.Code = keyward.VerifyRevoked
	case keyward.VerifyValid:
		switch {
		case !tok.HasScopes(req.Scopes):
			res.Code = keyward.VerifyInsufficientScope
		case !req.Permissions.IsZero() && !req.Permissions.Eval(res.Permissions()):
			res.Code = keyward.VerifyInsufficientPermissions
		}
	}
	if err := v.finish(ctx, snap, req.Cost, now, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// idSum is the byID cache's key for a key id. The id is public; the hash only fits it to the
// cache's fixed-size keys.
func idSum(id string) [32]byte { return sha256.Sum256([]byte("key-id:" + id)) }

// keyByID returns the cache entry of the account's key with the id, reading and resolving it
// on a miss; nil when there is no such key.
func (v *Verifier) keyByID(ctx context.Context, accountID, keyID string) (*snapshot, error) {
	now := v.now()
	sum := idSum(keyID)
	if snap, ok := v.byID.get(sum, now); ok {
		return snap, nil
	}
	gen := v.byID.generation()
	k, err := v.store.Key(ctx, accountID, keyID)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n, err := v.snapshotOf(ctx, k, sum)
	if err != nil {
		return nil, err
	}
	v.byID.putNodeIfGen(sum, n, now, gen)
	return &n.value, nil
}

// Permissions are what the credential may do: its key's effective permissions, or, for an
// access token, those the token was issued with that its key still holds.
func (r Result) Permissions() keyward.Permissions {
	var held keyward.Permissions
	if r.Identity != nil {
		held = r.Identity.Permissions
	}
	if r.Token == nil {
		return held
	}
	if r.Identity == nil {
		return nil
	}
	return keyward.Intersect(r.Token.Permissions, held)
}

// Scopes are the credential's scopes: the token's, or the key's.
func (r Result) Scopes() []string {
	if r.Token != nil {
		return r.Token.Scopes
	}
	if r.Key != nil {
		return r.Key.Scopes
	}
	return nil
}

// Principal is whom a valid credential authenticates, for the routes it may call: its key,
// acting with the credential's permissions, for its user if it has one.
func (r Result) Principal() keyward.Principal {
	p := keyward.Principal{AccountID: r.Key.AccountID, Kind: keyward.KindAPIKey, ID: r.Key.ID, KeyID: r.Key.ID,
		Permissions: r.Permissions()}
	if r.Identity != nil && r.Identity.User != nil {
		p.UserID = r.Identity.User.ID
	}
	return p
}
