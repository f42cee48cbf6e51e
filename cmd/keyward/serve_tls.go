package main

import (
	"crypto/tls"
	"net/http"
)

// serverTLS is the TLS configuration of every listener Keyward serves: TLS 1.2 or later and,
// for TLS 1.2, only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305), no
// CBC or SHA-1 suite. TLS 1.3's suites are all AEAD and not configurable.
func serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// hsts tells browsers to reach this origin over TLS only, for a year, on every answer: sent
// only when Keyward itself serves TLS, since the header is ignored over plain HTTP.
func hsts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
