package keyward_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func TestLimitDecisionBinding(t *testing.T) {
	rate := keyward.LimitWindow{Limit: 10, Remaining: 4, Reset: 3 * time.Second}
	for _, tc := range []struct {
		name  string
		quota keyward.LimitWindow
		want  keyward.LimitWindow
	}{
		{"no quota", keyward.LimitWindow{}, rate},
		{"quota has more left", keyward.LimitWindow{Limit: 100, Remaining: 50, Reset: time.Hour}, rate},
		{"quota has fewer left", keyward.LimitWindow{Limit: 100, Remaining: 2, Reset: time.Hour}, keyward.LimitWindow{Limit: 100, Remaining: 2, Reset: time.Hour}},
		{"tie, quota resets later", keyward.LimitWindow{Limit: 100, Remaining: 4, Reset: time.Hour}, keyward.LimitWindow{Limit: 100, Remaining: 4, Reset: time.Hour}},
		{"tie, rate resets later", keyward.LimitWindow{Limit: 100, Remaining: 4, Reset: time.Second}, rate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := keyward.LimitDecision{Allowed: true, Rate: rate, Quota: tc.quota}
			if got := d.Binding(); got != tc.want {
				t.Errorf("Binding() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
