package keyward

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// Session is a person signed in to the dashboard. The browser holds a random token in an
// HttpOnly cookie; the store holds only its SHA-256, so a copy of the database signs no one
// in. Each request resolves the session's principal afresh, so that a revoked admin key or a
// disabled user ends their sessions at once.
type Session struct {
	ID        string
	TokenHash []byte
	AccountID string
	// Kind is the principal kind that signed in (KindAdminKey, KindUser) and PrincipalID its
	// id: the admin key's, or the user's.
	Kind        string
	PrincipalID string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	// ExpiresAt is the absolute end; an idle session ends SessionIdle after LastSeenAt.
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// Session lifetimes: idle and absolute.
const (
	SessionIdle     = 2 * time.Hour
	SessionLifetime = 12 * time.Hour
	// sessionTouchEvery bounds how often a session's last use is written: not on every page.
	sessionTouchEvery = time.Minute
)

// SessionStore keeps dashboard sessions.
type SessionStore interface {
	// CreateSession inserts s.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns the session with the hash; ENotFound if there is none.
	SessionByTokenHash(ctx context.Context, hash []byte) (*Session, error)
	// TouchSession sets the session's last use to at; ENotFound if absent.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// RevokeSession sets the session's revocation time to at unless set; ENotFound if absent.
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// PruneSessions deletes sessions that expired or were revoked before before.
	PruneSessions(ctx context.Context, before time.Time) (int64, error)
}

// Audit actions of the dashboard's sessions.
const (
	ActionSignIn  = "dashboard-sign-in"
	ActionSignOut = "dashboard-sign-out"
	TargetSession = "session"
)

// NewSessionToken makes a session's cookie token: 32 random bytes, URL-safe base64.
func NewSessionToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("keyward: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// StartSession signs p in to the dashboard: it stores a session and returns it with the
// token for the cookie. Only admin keys and users sign in (an API key is a machine's).
func (s *Service) StartSession(ctx context.Context, p Principal) (*Session, string, error) {
	if p.Kind != KindAdminKey && p.Kind != KindUser {
		return nil, "", Errorf(EForbidden, "only an admin key or a signed-in user may use the dashboard")
	}
	token := NewSessionToken()
	now := s.Now()
	sess := &Session{ID: NewID(), TokenHash: sessionHash(token), AccountID: p.AccountID, Kind: p.Kind,
		PrincipalID: p.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionLifetime)}
	err := s.mutate(ctx, p, ActionSignIn, TargetSession, sess.ID, func(tx *Service, _ *AuditEvent) error {
		return tx.store.CreateSession(ctx, sess)
	})
	if err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// SessionPrincipal returns the live session of token and the principal it acts as now;
// EUnauthenticated when the token is unknown, the session ended (signed out, idle, past its
// lifetime), or its admin key or user no longer works.
func (s *Service) SessionPrincipal(ctx context.Context, token string) (*Session, Principal, error) {
	denied := Errorf(EUnauthenticated, "the session has ended: sign in again")
	if token == "" || len(token) > 100 {
		return nil, Principal{}, denied
	}
	hash := sessionHash(token)
	sess, err := s.store.SessionByTokenHash(ctx, hash)
	if ErrorCode(err) == ENotFound {
		return nil, Principal{}, denied
	}
	if err != nil {
		return nil, Principal{}, err
	}
	now := s.Now()
	if subtle.ConstantTimeCompare(sess.TokenHash, hash) != 1 || sess.RevokedAt != nil ||
		!now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= SessionIdle {
		return nil, Principal{}, denied
	}
	var p Principal
	switch sess.Kind {
	case KindAdminKey:
		p, err = s.adminPrincipal(ctx, sess.PrincipalID)
	case KindUser:
		p, err = s.userPrincipal(ctx, sess.AccountID, sess.PrincipalID)
	default:
		err = denied
	}
	if err != nil {
		if c := ErrorCode(err); c == ENotFound || c == EUnauthenticated || c == EForbidden {
			return nil, Principal{}, denied
		}
		return nil, Principal{}, err
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return nil, Principal{}, err
		}
		sess.LastSeenAt = now
	}
	return sess, p, nil
}

// adminPrincipal is the principal of a live admin key, by id.
func (s *Service) adminPrincipal(ctx context.Context, id string) (Principal, error) {
	keys, err := s.store.AdminKeys(ctx)
	if err != nil {
		return Principal{}, err
	}
	for _, k := range keys {
		if k.ID != id {
			continue
		}
		if k.RevokedAt != nil {
			return Principal{}, Errorf(EUnauthenticated, "the admin key was revoked")
		}
		acct, err := s.store.Account(ctx, k.AccountID)
		if err != nil {
			return Principal{}, err
		}
		return Principal{AccountID: k.AccountID, Kind: KindAdminKey, ID: k.ID, Permissions: rootPermissions(acct)}, nil
	}
	return Principal{}, Errorf(ENotFound, "admin key %s not found", id)
}

// EndSession signs the session out; the token is dead from now on, on every node.
func (s *Service) EndSession(ctx context.Context, sess *Session, p Principal) error {
	return s.mutate(ctx, p, ActionSignOut, TargetSession, sess.ID, func(tx *Service, _ *AuditEvent) error {
		return tx.store.RevokeSession(ctx, sess.ID, tx.Now())
	})
}

// userPrincipal is the principal of an enabled user, by id.
func (s *Service) userPrincipal(ctx context.Context, accountID, id string) (Principal, error) {
	u, err := s.store.User(ctx, accountID, id)
	if err != nil {
		return Principal{}, err
	}
	return s.principalOfUser(ctx, u)
}
