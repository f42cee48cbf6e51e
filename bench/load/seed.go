package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/client"
)

// seeding is what creating the keys gave.
type seeding struct {
	Keys        int     `json:"keys"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	// PerSecond is the key creation rate: POST /v1/api-keys answers per second.
	PerSecond float64 `json:"keys_per_second"`
}

// seededKey is a key the run created.
type seededKey struct{ id, secret string }

// seed creates one project and n keys in it through the API, conc at a time, and returns
// them. Any failed creation fails the seeding.
func seed(ctx context.Context, baseURL, token string, n, conc int, timeout time.Duration, progress io.Writer) ([]seededKey, seeding, error) {
	res := seeding{Keys: n, Concurrency: conc}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: conc,
		MaxConnsPerHost:     conc,
	}
	defer tr.CloseIdleConnections()
	kw := client.New(baseURL, token,
		client.WithHTTPClient(&http.Client{Transport: tr, Timeout: timeout}),
		client.WithUserAgent("keyward-bench-load"))

	project, err := kw.CreateProject(ctx, client.CreateProjectParams{Name: projectName(), KeyPrefix: "bench"})
	if err != nil {
		return nil, res, fmt.Errorf("creating the project: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keys := make([]seededKey, n)
	var next, done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				k, err := kw.CreateKey(ctx, client.CreateKeyParams{ProjectID: project.ID, Name: fmt.Sprintf("bench-%d", i)})
				if err != nil {
					cancel(fmt.Errorf("creating key %d: %w", i, err))
					return
				}
				keys[i] = seededKey{id: k.ID, secret: k.Secret}
				done.Add(1)
			}
		})
	}
	stopProgress := reportProgress(progress, "created", n, &done, start)
	wg.Wait()
	stopProgress()
	if err := context.Cause(ctx); err != nil {
		return nil, res, err
	}
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.PerSecond = float64(n) / res.Seconds
	return keys, res, nil
}

// reportProgress prints how far a long step has got every 10 s, until the returned
// function is called.
func reportProgress(w io.Writer, verb string, total int, done *atomic.Int64, start time.Time) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(w, "  %s %d of %d keys (%.0f/s)\n", verb, d, total, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// projectName is unique, since names are unique in an account and -url may point at a server
// that has seen earlier runs.
func projectName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "bench " + time.Now().UTC().Format("20060102T150405") + " " + hex.EncodeToString(b)
}

// verifyBody is the body of a request to verify key.
func verifyBody(key string) []byte {
	b, _ := json.Marshal(client.VerifyKeyParams{Key: key})
	return b
}

// verifyBodies is verifyBody of each key.
func verifyBodies(keys []string) [][]byte {
	bodies := make([][]byte, len(keys))
	for i, k := range keys {
		bodies[i] = verifyBody(k)
	}
	return bodies
}

// readKeys reads a file of keys, one per line, as keyward admin seed-keys writes it.
func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-keys-file: %w", err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			keys = append(keys, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-keys-file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("-keys-file %s holds no keys", path)
	}
	return keys, nil
}
