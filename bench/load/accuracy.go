package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/client"
)

// The accuracy run (-accuracy) answers one question: does a key's rate limit let through
// what it promises, on one node or on several sharing Redis? It starts -nodes Keyward
// processes (several need -server-flag=--database=… and --redis=… shared by all), creates
// one key on the standard tier (30 a second, burst 30), and verifies it at -rps for -d,
// spreading the requests over the nodes in turn. GCRA promises burst + rate × elapsed.

// accuracyResult is what an accuracy run measured.
type accuracyResult struct {
	Nodes    int            `json:"nodes"`
	RPS      float64        `json:"rps"`
	Seconds  float64        `json:"seconds"`
	Sent     int            `json:"sent"`
	Codes    map[string]int `json:"codes"`
	Errors   int            `json:"errors"`
	Expected float64        `json:"expected_valid"`
	// Ratio is VALID / Expected; 1 is exact.
	Ratio float64 `json:"ratio"`
}

// standardRate and standardBurst are the built-in standard tier's numbers.
const standardRate, standardBurst = 30, 30

func accuracy(ctx context.Context, o options, stdout, progress io.Writer) (accuracyResult, error) {
	res := accuracyResult{Nodes: o.nodes, RPS: o.rps, Codes: map[string]int{}}
	var urls []string
	token := o.token
	if o.url != "" {
		urls = []string{o.url}
	}
	for i := range o.nodes - len(urls) {
		// Only the first node of a new store prints an admin key.
		srv, err := startKeyward(ctx, o.keywardBin, o.serverFlags, i == 0 && token == "", progress)
		if err != nil {
			return res, fmt.Errorf("starting node %d: %w", i+1, err)
		}
		defer srv.stop()
		if i == 0 && token == "" {
			token = srv.token
		}
		urls = append(urls, srv.url)
		fmt.Fprintf(progress, "node %d is listening on %s\n", i+1, srv.url)
	}
	kw := client.New(urls[0], token)
	project, err := kw.CreateProject(ctx, client.CreateProjectParams{Name: projectName(), KeyPrefix: "acc"})
	if err != nil {
		return res, fmt.Errorf("creating the project: %w", err)
	}
	key, err := kw.CreateKey(ctx, client.CreateKeyParams{ProjectID: project.ID, Name: "accuracy"})
	if err != nil {
		return res, fmt.Errorf("creating the key: %w", err)
	}
	body := verifyBody(key.Secret)
	httpc := &http.Client{Timeout: o.reqTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer httpc.CloseIdleConnections()
	// A verification first on each node, so that the run measures the limit and not a
	// cache miss; they count against the limit, and so in Expected.
	for _, u := range urls {
		if _, err := verifyCode(ctx, httpc, u, body); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(progress, "verifying one standard key at %.0f/s for %s over %d node(s) …\n", o.rps, o.duration, len(urls))

	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / o.rps)
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; time.Since(start) < o.duration && ctx.Err() == nil; i++ {
		u := urls[i%len(urls)]
		wg.Go(func() {
			code, err := verifyCode(ctx, httpc, u, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
				return
			}
			res.Codes[code]++
		})
		res.Sent++
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.Expected = standardBurst + standardRate*res.Seconds
	// The warm-up verifications came out of the same bucket.
	res.Ratio = float64(res.Codes["VALID"]+len(urls)) / res.Expected
	fmt.Fprintf(stdout, "nodes %d, %.0f req/s for %.2f s: sent %d, VALID %d, RATE_LIMITED %d, errors %d\n",
		res.Nodes, res.RPS, res.Seconds, res.Sent, res.Codes["VALID"], res.Codes["RATE_LIMITED"], res.Errors)
	fmt.Fprintf(stdout, "expected %.1f (burst %d + %d/s × %.2f s), got %d (with %d warm-up): ratio %.4f\n",
		res.Expected, standardBurst, standardRate, res.Seconds, res.Codes["VALID"]+len(urls), len(urls), res.Ratio)
	return res, ctx.Err()
}

func verifyCode(ctx context.Context, c *http.Client, baseURL string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/v1/keys/verify", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("verify: %d %s", resp.StatusCode, b)
	}
	return answerCode(b), nil
}
