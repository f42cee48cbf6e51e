// Package secretscantest plays GitHub's side of the secret scanning partner program for
// tests: it publishes signing keys over real HTTP, as GitHub's meta API does, and signs
// alerts with them.
//
// It is ordinary non-test code so that the tests of any package can import it (the
// secretscan tests, and those of the handler that receives alerts); nothing outside tests
// should.
package secretscantest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/secretscan"
)

// KeysPath is where the server publishes its keys, the path of secretscan.DefaultKeysURL.
const KeysPath = "/meta/public_keys/secret_scanning"

// Server is GitHub's keys endpoint, listening on 127.0.0.1. It signs with one P-256 key at a
// time, the current one, and keeps publishing the keys it signed with before, as GitHub does
// after a rotation.
type Server struct {
	// URL is the keys URL, to give as secretscan.Options.KeysURL.
	URL string

	fetches atomic.Int64

	mu        sync.Mutex
	key       *ecdsa.PrivateKey
	keyID     string
	published []publishedKey
	status    int // answered instead of the keys when not 0
}

type publishedKey struct {
	ID  string
	PEM string
}

// NewServer starts a server with a fresh current key. It is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.RotateKey(t)

	// Listen explicitly on 127.0.0.1: httptest falls back to [::1], and tests must not
	// depend on which loopback the machine has.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("secretscantest: listen: %v", err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL + KeysPath
	return s
}

// ServeHTTP answers GET KeysPath with the published keys, as GitHub's meta API does, and
// counts the fetch. A test that must not use the network (one under testing/synctest, say)
// can call it from an http.RoundTripper of its own.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != KeysPath {
		http.NotFound(w, r)
		return
	}
	s.fetches.Add(1)

	type entry struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []entry `json:"public_keys"`
	}
	s.mu.Lock()
	status := s.status
	for _, k := range s.published {
		doc.PublicKeys = append(doc.PublicKeys, entry{k.ID, k.PEM, k.ID == s.keyID})
	}
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// RotateKey makes a new P-256 key, under a new identifier, the current one and returns the
// identifier. The keys before it stay published, no longer current.
func (s *Server) RotateKey(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("secretscantest: generate key: %v", err)
	}
	// Shaped like GitHub's identifiers, 64 hex digits: the SHA-256 of the key's DER form.
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatalf("secretscantest: marshal key: %v", err)
	}
	id := fmt.Sprintf("%x", sha256.Sum256(der))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.keyID = key, id
	s.published = append(s.published, publishedKey{id, pemOf(der)})
	return id
}

// Publish publishes pub, which may be any kind of key x509 can marshal, under keyID, beside
// the others. It does not sign with it: a test that wants a signature by it makes one.
func (s *Server) Publish(t testing.TB, keyID string, pub crypto.PublicKey) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("secretscantest: marshal key: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, publishedKey{keyID, pemOf(der)})
}

// FailWith makes the server answer every fetch with status, and no keys, until it is called
// with 0.
func (s *Server) FailWith(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// KeyID returns the identifier of the current key.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyID
}

// Sign signs body with the current key as GitHub does and returns the values of the
// Github-Public-Key-Identifier and Github-Public-Key-Signature headers.
func (s *Server) Sign(body []byte) (keyID, signature string) {
	s.mu.Lock()
	key, keyID := s.key, s.keyID
	s.mu.Unlock()
	return keyID, SignWith(key, body)
}

// Header returns the two signature headers for body, signed as Sign does.
func (s *Server) Header(body []byte) http.Header {
	keyID, sig := s.Sign(body)
	h := make(http.Header, 2)
	h.Set(secretscan.HeaderKeyID, keyID)
	h.Set(secretscan.HeaderSignature, sig)
	return h
}

// Fetches reports how many times the keys have been fetched, so that a test can tell
// whether a verifier went back to GitHub.
func (s *Server) Fetches() int { return int(s.fetches.Load()) }

// SignWith returns the standard base64 of key's ASN.1 DER ECDSA signature over the SHA-256
// of body, the form of the Github-Public-Key-Signature header. It panics if signing fails,
// which crypto/rand makes impossible.
func SignWith(key *ecdsa.PrivateKey, body []byte) string {
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		panic(fmt.Sprintf("secretscantest: sign: %v", err))
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// ReportsBody returns the JSON body of an alert carrying reports, as GitHub writes it.
func ReportsBody(reports ...secretscan.Report) []byte {
	type wire struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	ws := make([]wire, len(reports))
	for i, r := range reports {
		ws[i] = wire(r)
	}
	body, err := json.Marshal(ws)
	if err != nil {
		panic(fmt.Sprintf("secretscantest: marshal reports: %v", err)) // strings always marshal
	}
	return body
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
