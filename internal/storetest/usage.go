package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// day0 is the start of base's UTC day, where the usage tests count.
var day0 = time.Date(2030, time.March, 14, 0, 0, 0, 0, time.UTC)

// minuteOf returns the minute h hours and m minutes into day0.
func minuteOf(h, m int) time.Time {
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// usageOf returns a count of the key's verifications.
func usageOf(k *keyward.Key, minute time.Time, outcome keyward.VerifyCode, n int64) keyward.UsageCount {
	return keyward.UsageCount{KeyID: k.ID, AccountID: k.AccountID, ProjectID: k.ProjectID, Minute: minute, Outcome: outcome, Count: n}
}

// addUsage adds the counts, failing the test on an error.
func addUsage(t *testing.T, s keyward.Store, counts ...keyward.UsageCount) {
	t.Helper()
	if err := s.AddUsage(t.Context(), counts); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
}

// usage reads the report f asks for, failing the test on an error.
func usage(t *testing.T, s keyward.Store, f keyward.UsageFilter) []keyward.UsageBucket {
	t.Helper()
	got, err := s.Usage(t.Context(), f)
	if err != nil {
		t.Fatalf("Usage(%+v): %v", f, err)
	}
	return got
}

func testAddUsageSums(t *testing.T, s keyward.Store) {
	p := newProject(t, s, newAccount(t, s).ID)
	k := newKey(t, s, p, nil)
	m := minuteOf(10, 0)
	// Twice in one batch, and again in the next.
	addUsage(t, s, usageOf(k, m, keyward.VerifyValid, 2), usageOf(k, m, keyward.VerifyRateLimited, 1),
		usageOf(k, m, keyward.VerifyValid, 3))
	addUsage(t, s, usageOf(k, m, keyward.VerifyValid, 4), usageOf(k, m, keyward.VerifyRevoked, 0))
	if err := s.AddUsage(t.Context(), nil); err != nil {
		t.Errorf("AddUsage of none: %v", err)
	}
	got := usage(t, s, keyward.UsageFilter{AccountID: k.AccountID, Granularity: time.Minute})
	wantSame(t, "Usage", got, []keyward.UsageBucket{
		{Start: m, Outcome: keyward.VerifyRateLimited, Count: 1},
		{Start: m, Outcome: keyward.VerifyValid, Count: 9},
	})
}

// testAddUsageMany adds more counts in one call than a store may write in one statement
// (451: SQLite writes 200 to a statement), some of one key, minute and outcome twice, among
// them a key unknown: every known count is summed, whatever statement it fell in.
func testAddUsageMany(t *testing.T, s keyward.Store) {
	p := newProject(t, s, newAccount(t, s).ID)
	keys := []*keyward.Key{newKey(t, s, p, nil), newKey(t, s, p, nil), newKey(t, s, p, nil)}
	var counts []keyward.UsageCount
	want := map[int64]int64{} // by minute, in Unix seconds
	for i := range 450 {
		k, m := keys[i%3], minuteOf(10, i/6) // each key twice per minute
		counts = append(counts, usageOf(k, m, keyward.VerifyValid, int64(i+1)))
		want[m.Unix()] += int64(i + 1)
	}
	unknown := usageOf(keys[0], minuteOf(10, 0), keyward.VerifyValid, 1000)
	unknown.KeyID = keyward.NewID()
	addUsage(t, s, append(counts, unknown)...)
	got := usage(t, s, keyward.UsageFilter{AccountID: p.AccountID, Granularity: time.Minute})
	if len(got) != len(want) {
		t.Fatalf("Usage has %d buckets, want %d", len(got), len(want))
	}
	for _, b := range got {
		if b.Outcome != keyward.VerifyValid || b.Count != want[b.Start.Unix()] {
			t.Errorf("bucket %v %s = %d, want %d", b.Start, b.Outcome, b.Count, want[b.Start.Unix()])
		}
	}
}

// testAddUsageDropsUnknownKeys adds counts of keys that do not exist among others: they are
// dropped, and the others counted.
func testAddUsageDropsUnknownKeys(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	kb := newKey(t, s, newProject(t, s, b.ID), nil)
	m := minuteOf(10, 0)
	unknown := usageOf(k, m, keyward.VerifyValid, 5)
	unknown.KeyID = keyward.NewID()
	elsewhere := usageOf(kb, m, keyward.VerifyValid, 7)
	elsewhere.AccountID = a.ID // a count that names another account's key
	addUsage(t, s, unknown, usageOf(k, m, keyward.VerifyValid, 1), elsewhere)

	wantSame(t, "Usage", usage(t, s, keyward.UsageFilter{AccountID: a.ID, Granularity: time.Minute}),
		[]keyward.UsageBucket{{Start: m, Outcome: keyward.VerifyValid, Count: 1}})
	wantSame(t, "Usage of the other account", usage(t, s, keyward.UsageFilter{AccountID: b.ID, Granularity: time.Minute}),
		[]keyward.UsageBucket(nil))
}

func testUsageBuckets(t *testing.T, s keyward.Store) {
	p := newProject(t, s, newAccount(t, s).ID)
	k1, k2 := newKey(t, s, p, nil), newKey(t, s, p, nil)
	valid, limited := keyward.VerifyValid, keyward.VerifyRateLimited
	addUsage(t, s,
		usageOf(k1, minuteOf(10, 0), valid, 1),
		usageOf(k2, minuteOf(10, 0), valid, 2),
		usageOf(k1, minuteOf(10, 1), limited, 4),
		usageOf(k1, minuteOf(10, 59), valid, 8),
		usageOf(k1, minuteOf(11, 0), valid, 16),
		usageOf(k2, minuteOf(23, 59), limited, 32),
		usageOf(k1, minuteOf(24, 0), valid, 64),
		usageOf(k1, minuteOf(24, 0), limited, 128),
	)
	bucket := func(start time.Time, outcome keyward.VerifyCode, n int64) keyward.UsageBucket {
		return keyward.UsageBucket{Start: start, Outcome: outcome, Count: n}
	}
	tests := []struct {
		name     string
		from, to time.Time
		size     time.Duration
		want     []keyward.UsageBucket
	}{
		{"minutes", time.Time{}, time.Time{}, time.Minute, []keyward.UsageBucket{
			bucket(minuteOf(10, 0), valid, 3),
			bucket(minuteOf(10, 1), limited, 4),
			bucket(minuteOf(10, 59), valid, 8),
			bucket(minuteOf(11, 0), valid, 16),
			bucket(minuteOf(23, 59), limited, 32),
			bucket(minuteOf(24, 0), limited, 128),
			bucket(minuteOf(24, 0), valid, 64),
		}},
		{"hours", time.Time{}, time.Time{}, time.Hour, []keyward.UsageBucket{
			bucket(minuteOf(10, 0), limited, 4),
			bucket(minuteOf(10, 0), valid, 11),
			bucket(minuteOf(11, 0), valid, 16),
			bucket(minuteOf(23, 0), limited, 32),
			bucket(minuteOf(24, 0), limited, 128),
			bucket(minuteOf(24, 0), valid, 64),
		}},
		{"days", time.Time{}, time.Time{}, 24 * time.Hour, []keyward.UsageBucket{
			bucket(day0, limited, 36),
			bucket(day0, valid, 27),
			bucket(minuteOf(24, 0), limited, 128),
			bucket(minuteOf(24, 0), valid, 64),
		}},
		{"quarter hours", time.Time{}, time.Time{}, 15 * time.Minute, []keyward.UsageBucket{
			bucket(minuteOf(10, 0), limited, 4),
			bucket(minuteOf(10, 0), valid, 3),
			bucket(minuteOf(10, 45), valid, 8),
			bucket(minuteOf(11, 0), valid, 16),
			bucket(minuteOf(23, 45), limited, 32),
			bucket(minuteOf(24, 0), limited, 128),
			bucket(minuteOf(24, 0), valid, 64),
		}},
		// From is counted and To is not; a bucket holds only what is between them.
		{"hours from 10:01 to 11:00", minuteOf(10, 1), minuteOf(11, 0), time.Hour, []keyward.UsageBucket{
			bucket(minuteOf(10, 0), limited, 4),
			bucket(minuteOf(10, 0), valid, 8),
		}},
		{"a bound within a minute", minuteOf(10, 0).Add(time.Second), minuteOf(10, 59).Add(time.Millisecond), time.Minute, []keyward.UsageBucket{
			bucket(minuteOf(10, 1), limited, 4),
			bucket(minuteOf(10, 59), valid, 8),
		}},
		{"nothing in range", minuteOf(12, 0), minuteOf(23, 0), time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usage(t, s, keyward.UsageFilter{AccountID: p.AccountID, From: tt.from, To: tt.to, Granularity: tt.size})
			wantSame(t, "Usage", got, tt.want)
			for _, b := range got {
				if b.Start.Location() != time.UTC {
					t.Errorf("Usage: bucket start %v not in UTC", b.Start)
				}
			}
		})
	}
	t.Run("granularity not in minutes", func(t *testing.T) {
		for _, size := range []time.Duration{0, time.Second, 90 * time.Second} {
			_, err := s.Usage(t.Context(), keyward.UsageFilter{AccountID: p.AccountID, Granularity: size})
			wantCode(t, "Usage with granularity "+size.String(), err, keyward.EValidation)
		}
	})
}

func testUsageFilters(t *testing.T, s keyward.Store) {
	a, b := newAccount(t, s), newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	k1, k2 := newKey(t, s, p1, nil), newKey(t, s, p2, nil)
	accountKey := newKey(t, s, p1, func(k *keyward.Key) { k.ProjectID = "" })
	kb := newKey(t, s, newProject(t, s, b.ID), nil)
	m := minuteOf(10, 0)
	addUsage(t, s,
		usageOf(k1, m, keyward.VerifyValid, 1),
		usageOf(k2, m, keyward.VerifyValid, 2),
		usageOf(accountKey, m, keyward.VerifyValid, 4),
		usageOf(kb, m, keyward.VerifyValid, 8),
	)
	valid := func(n int64) []keyward.UsageBucket {
		return []keyward.UsageBucket{{Start: m, Outcome: keyward.VerifyValid, Count: n}}
	}
	tests := []struct {
		name   string
		filter keyward.UsageFilter
		want   []keyward.UsageBucket
	}{
		{"account", keyward.UsageFilter{AccountID: a.ID}, valid(7)},
		{"key", keyward.UsageFilter{AccountID: a.ID, KeyID: k2.ID}, valid(2)},
		{"account key", keyward.UsageFilter{AccountID: a.ID, KeyID: accountKey.ID}, valid(4)},
		{"project", keyward.UsageFilter{AccountID: a.ID, ProjectID: p1.ID}, valid(1)},
		{"project and its key", keyward.UsageFilter{AccountID: a.ID, ProjectID: p1.ID, KeyID: k1.ID}, valid(1)},
		{"project and another project's key", keyward.UsageFilter{AccountID: a.ID, ProjectID: p1.ID, KeyID: k2.ID}, nil},
		{"another account", keyward.UsageFilter{AccountID: b.ID}, valid(8)},
		{"another account's key", keyward.UsageFilter{AccountID: b.ID, KeyID: k1.ID}, nil},
		{"another account's project", keyward.UsageFilter{AccountID: b.ID, ProjectID: p1.ID}, nil},
		{"an account without usage", keyward.UsageFilter{AccountID: newAccount(t, s).ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.Granularity = time.Hour
			wantSame(t, "Usage", usage(t, s, tt.filter), tt.want)
		})
	}
}

// testPruneUsage prunes counts from long before the other tests' minutes, so that the rows it
// counts are its own even in a store the other tests share.
func testPruneUsage(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	k := newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)
	m0 := time.Date(1990, time.January, 1, 0, 0, 0, 0, time.UTC)
	m := func(i int) time.Time { return m0.Add(time.Duration(i) * time.Minute) }
	addUsage(t, s,
		usageOf(k, m(0), keyward.VerifyValid, 1),
		usageOf(k, m(1), keyward.VerifyValid, 2),
		usageOf(k, m(1), keyward.VerifyExpired, 4),
		usageOf(k, m(2), keyward.VerifyValid, 8),
		usageOf(k, m(3), keyward.VerifyValid, 16),
	)
	steps := []struct {
		name   string
		before time.Time
		pruned int64
		want   []keyward.UsageBucket
	}{
		{"before the first", m(0), 0, []keyward.UsageBucket{
			{Start: m(0), Outcome: keyward.VerifyValid, Count: 1},
			{Start: m(1), Outcome: keyward.VerifyExpired, Count: 4},
			{Start: m(1), Outcome: keyward.VerifyValid, Count: 2},
			{Start: m(2), Outcome: keyward.VerifyValid, Count: 8},
			{Start: m(3), Outcome: keyward.VerifyValid, Count: 16},
		}},
		{"before the third minute", m(2), 3, []keyward.UsageBucket{
			{Start: m(2), Outcome: keyward.VerifyValid, Count: 8},
			{Start: m(3), Outcome: keyward.VerifyValid, Count: 16},
		}},
		{"within the third minute", m(2).Add(time.Second), 1, []keyward.UsageBucket{
			{Start: m(3), Outcome: keyward.VerifyValid, Count: 16},
		}},
		{"again", m(2), 0, []keyward.UsageBucket{
			{Start: m(3), Outcome: keyward.VerifyValid, Count: 16},
		}},
	}
	for _, step := range steps {
		n, err := s.PruneUsage(ctx, step.before)
		if err != nil {
			t.Fatalf("%s: PruneUsage: %v", step.name, err)
		}
		if n != step.pruned {
			t.Errorf("%s: PruneUsage: got %d rows, want %d", step.name, n, step.pruned)
		}
		got := usage(t, s, keyward.UsageFilter{AccountID: k.AccountID, Granularity: time.Minute})
		wantSame(t, step.name+": Usage", got, step.want)
	}
}

// testListUsageCounts lists an account's counts as they are stored, in pages that go on from
// the last count of the one before.
func testListUsageCounts(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	k1, k2 := newKey(t, s, p, nil), newKey(t, s, p, nil)
	accountKey := newKey(t, s, p, func(k *keyward.Key) { k.ProjectID = "" })
	elsewhere := newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)
	valid, limited := keyward.VerifyValid, keyward.VerifyRateLimited
	addUsage(t, s,
		usageOf(k1, minuteOf(10, 1), valid, 2),
		usageOf(k1, minuteOf(10, 1), limited, 1),
		usageOf(k1, minuteOf(10, 0), valid, 4),
		usageOf(k2, minuteOf(10, 0), valid, 3),
		usageOf(accountKey, minuteOf(23, 59), valid, 1),
		usageOf(elsewhere, minuteOf(10, 0), valid, 9),
	)
	addUsage(t, s, usageOf(k1, minuteOf(10, 1), valid, 5)) // summed into the first
	want := []keyward.UsageCount{
		usageOf(k1, minuteOf(10, 0), valid, 4),
		usageOf(k1, minuteOf(10, 1), limited, 1),
		usageOf(k1, minuteOf(10, 1), valid, 7),
		usageOf(k2, minuteOf(10, 0), valid, 3),
		usageOf(accountKey, minuteOf(23, 59), valid, 1),
	}
	slices.SortStableFunc(want, func(x, y keyward.UsageCount) int { return strings.Compare(x.KeyID, y.KeyID) })

	for _, limit := range []int{1, 2, 5, 100} {
		var got []keyward.UsageCount
		f := keyward.UsageCountFilter{AccountID: a.ID, Limit: limit}
		for range 100 {
			page, err := s.ListUsageCounts(ctx, f)
			if err != nil {
				t.Fatalf("ListUsageCounts(%+v): %v", f, err)
			}
			if len(page) > limit {
				t.Fatalf("ListUsageCounts(%+v): got %d counts", f, len(page))
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			f.After = &page[len(page)-1]
		}
		wantSame(t, "ListUsageCounts in pages of "+strconv.Itoa(limit), got, want)
		for _, c := range got {
			if c.Minute.Location() != time.UTC {
				t.Errorf("ListUsageCounts: minute %v not in UTC", c.Minute)
			}
		}
	}
	wantNone(t, "ListUsageCounts with limit 0", func() (int, error) {
		got, err := s.ListUsageCounts(ctx, keyward.UsageCountFilter{AccountID: a.ID})
		return len(got), err
	})
	wantNone(t, "ListUsageCounts of an unknown account", func() (int, error) {
		got, err := s.ListUsageCounts(ctx, keyward.UsageCountFilter{AccountID: keyward.NewID(), Limit: 100})
		return len(got), err
	})
}
