package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
)

// counted is a table that Inventory counts, and the count it fills.
type counted struct {
	table string
	n     *int
}

// inventoryTables are the tables that hold each kind Inventory counts.
func inventoryTables(inv *keyward.Inventory) []counted {
	return []counted{
		{"accounts", &inv.Accounts}, {"projects", &inv.Projects}, {"environments", &inv.Environments},
		{"roles", &inv.Roles}, {"users", &inv.Users}, {"api_keys", &inv.Keys},
		{"memberships", &inv.Memberships}, {"admin_keys", &inv.AdminKeys}, {"audit_events", &inv.AuditEvents},
		{"signing_keys", &inv.SigningKeys}, {"token_denials", &inv.TokenDenials},
		{"rate_limit_tiers", &inv.Tiers}, {"tier_requests", &inv.TierRequests},
		{"key_credits", &inv.Credits}, {"key_usage", &inv.UsageCounts},
		{"webhook_endpoints", &inv.WebhookEndpoints},
		{"outbox_messages WHERE delivered_at IS NULL AND abandoned_at IS NULL", &inv.PendingOutbox},
	}
}

// Inventory counts every table in one statement, which SQLite reads from one snapshot.
func (s *Store) Inventory(ctx context.Context) (keyward.Inventory, error) {
	var inv keyward.Inventory
	tables := inventoryTables(&inv)
	counts := make([]string, len(tables))
	dest := make([]any, len(tables))
	for i, t := range tables {
		counts[i] = `(SELECT count(*) FROM ` + t.table + `)`
		dest[i] = t.n
	}
	if err := s.reader().QueryRowContext(ctx, `SELECT `+strings.Join(counts, ", ")).Scan(dest...); err != nil {
		return keyward.Inventory{}, fmt.Errorf("sqlite: inventory: %w", err)
	}
	return inv, nil
}
