package verify

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// TestSnapshotVerdictIsKeyVerdict: the verdict a snapshot answers from its own fields is the
// Key's Verdict, for every combination of a key's ends (revoked, expiry, grace; past, now,
// future, none), its user disabled or not, network lists on the key or its identity, and
// requests asking for scopes, permissions or nothing, from inside or outside the networks.
func TestSnapshotVerdictIsKeyVerdict(t *testing.T) {
	now := t0
	ends := []*time.Time{nil, ptr(now.Add(-time.Second)), ptr(now), ptr(now.Add(time.Nanosecond)), ptr(now.Add(time.Hour))}
	inside, outside := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("192.0.2.1")
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	perms, err := keyward.ParsePermissionQuery("keys.read")
	if err != nil {
		t.Fatal(err)
	}
	identities := map[string]*keyward.Identity{
		"unresolved":         nil,
		"enabled user":       {User: &keyward.User{}, Permissions: keyward.Permissions{"keys.read"}},
		"disabled user":      {User: &keyward.User{DisabledAt: ptr(now.Add(-time.Hour))}},
		"identity networks":  {AllowedIPs: nets},
		"no user, no limits": {},
	}
	requests := map[string]Requirements{
		"nothing":             {},
		"nothing, inside":     {ClientIP: inside},
		"nothing, outside":    {ClientIP: outside},
		"a scope":             {Scopes: []string{"read"}},
		"a scope it lacks":    {Scopes: []string{"write"}},
		"permissions":         {Permissions: perms},
		"scope and an inside": {Scopes: []string{"read"}, ClientIP: inside},
	}
	checked := 0
	for _, revoked := range ends {
		for _, expires := range ends {
			for _, grace := range ends {
				for _, keyNets := range [][]netip.Prefix{nil, nets} {
					k := &keyward.Key{ID: "k", RevokedAt: revoked, ExpiresAt: expires, GraceExpiresAt: grace, AllowedIPs: keyNets, Scopes: []string{"read"}}
					for idName, id := range identities {
						snap := &newSnapshot(k, id, [32]byte{}).value
						for reqName, req := range requests {
							for _, at := range []time.Time{now.Add(-time.Nanosecond), now, now.Add(time.Minute)} {
								want := k.Verdict(at, id, req.ClientIP, req.Scopes, req.Permissions)
								if got := snap.verdict(at, &req); got != want {
									t.Errorf("%s, %s, revoked %s, expires %s, grace %s, key networks %v, at %v: got %s, want %s",
										idName, reqName, show(revoked), show(expires), show(grace), keyNets, at.Sub(now), got, want)
								}
								checked++
							}
						}
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("checked nothing")
	}
}

func ptr[T any](v T) *T { return &v }

func show(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprint(t.Sub(t0))
}
