package main

// This file holds the usage reports, 'keyward keys usage' and 'keyward usage', and the text
// chart they print.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// usageFlags are the time window and bucket size of a usage report.
type usageFlags struct {
	from, to    string
	since       time.Duration
	granularity string
}

func (u *usageFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&u.from, "from", "", "start at this RFC 3339 time (default: 24h before --to)")
	f.DurationVar(&u.since, "since", 0, "start this long ago, as a Go duration, e.g. 1h or 168h")
	f.StringVar(&u.to, "to", "", "end before this RFC 3339 time (default: now)")
	f.StringVar(&u.granularity, "granularity", "", "bucket size: minute, hour or day (default hour)")
	cmd.MarkFlagsMutuallyExclusive("from", "since")
	_ = cmd.RegisterFlagCompletionFunc("granularity", cobra.FixedCompletions(
		[]cobra.Completion{"minute", "hour", "day"}, cobra.ShellCompDirectiveNoFileComp))
}

// params turns the flags into a report's parameters; what is not given is left to the server.
func (u *usageFlags) params(cmd *cobra.Command, now time.Time) (client.UsageParams, error) {
	var (
		p       client.UsageParams
		err     error
		changed = cmd.Flags().Changed
	)
	switch g := client.Granularity(strings.TrimSpace(u.granularity)); g {
	case "", client.GranularityMinute, client.GranularityHour, client.GranularityDay:
		p.Granularity = g
	default:
		return p, fmt.Errorf("invalid --granularity %q: want minute, hour or day", u.granularity)
	}
	if changed("to") {
		if p.To, err = parseTimeFlag("to", u.to); err != nil {
			return p, err
		}
	}
	switch {
	case changed("from"):
		if p.From, err = parseTimeFlag("from", u.from); err != nil {
			return p, err
		}
	case changed("since"):
		if u.since <= 0 {
			return p, fmt.Errorf("invalid --since %v: want a positive duration such as 24h", u.since)
		}
		p.From = now.Add(-u.since)
		if p.To.IsZero() {
			p.To = now // so that --since means the same window as the server's "now"
		}
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return p, fmt.Errorf("invalid time window: --from (or --since) must be before --to")
	}
	return p, nil
}

func newKeysUsageCmd(conn *apiConn) *cobra.Command {
	var flags usageFlags
	cmd := &cobra.Command{
		Use:   "usage KEY_ID [flags]",
		Short: "Chart a key's verifications over time",
		Long: `Show how often a key was verified, bucket by bucket (per hour unless --granularity says
minute or day), as a bar chart with the count of each bucket and, in brackets, the
verifications that were refused (RATE_LIMITED, USAGE_EXCEEDED, …). Buckets without any
verification are left out. The window is the last 24 hours unless --from (or --since) and
--to say otherwise; at most 366 days. Times are UTC. Counts reach the report a second or two
after the verifications.

With --json the output is the API's own report.`,
		Example: `  keyward keys usage $KEY_ID
  keyward keys usage $KEY_ID --since 1h --granularity minute
  keyward keys usage $KEY_ID --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --granularity day --json`,
		Args: oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := flags.params(cmd, time.Now())
			if err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Usage, error) {
				return kw.KeyUsage(ctx, args[0], p)
			}, usageReport("key "+args[0]))
		},
	}
	flags.register(cmd)
	return cmd
}

func newUsageCmd() *cobra.Command {
	conn := &apiConn{}
	var (
		flags     usageFlags
		projectID string
	)
	cmd := &cobra.Command{
		Use:   "usage [--project ID] [flags]",
		Short: "Chart the verifications of the account's or a project's keys over time",
		Long: `Show how often the account's keys (or, with --project, one project's) were verified, bucket
by bucket, as 'keyward keys usage' does for one key: a bar chart with the count of each
bucket and, in brackets, the verifications that were refused. The window is the last 24
hours unless --from (or --since) and --to say otherwise. Times are UTC.

With --json the output is the API's own report.` + identityHelpTail,
		Example: `  keyward usage
  keyward usage --project $PROJECT_ID --since 168h --granularity day`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := flags.params(cmd, time.Now())
			if err != nil {
				return err
			}
			what := "the account"
			if cmd.Flags().Changed("project") {
				if err := nonBlank("project", projectID); err != nil {
					return err
				}
				p.ProjectID = projectID
				what = "project " + projectID
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Usage, error) {
				return kw.Usage(ctx, p)
			}, usageReport(what))
		},
	}
	conn.registerFlags(cmd)
	cmd.Flags().StringVar(&projectID, "project", "", "only the keys of this project")
	flags.register(cmd)
	return cmd
}

// usageReport writes a usage report on what (as "key ID") for people: a heading and the
// chart, or a line saying there were no verifications.
func usageReport(what string) func(io.Writer, *client.Usage) error {
	return func(w io.Writer, u *client.Usage) error {
		layout := bucketLayout(u.Granularity)
		window := u.From.UTC().Format(layout) + " to " + u.To.UTC().Format(layout) + " UTC"
		if len(u.Buckets) == 0 {
			_, err := fmt.Fprintf(w, "No verifications of %s from %s.\n", what, window)
			return err
		}
		fmt.Fprintf(w, "Verifications of %s per %s, %s:\n\n", what, orDefault(string(u.Granularity), "hour"), window)
		return writeUsageChart(w, u, usageChartWidth)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// usageChartWidth is the length of the longest bar, in terminal cells.
const usageChartWidth = 40

// bucketLayout is how a bucket's start is written: to the minute, or a date for days.
func bucketLayout(g client.Granularity) string {
	if g == client.GranularityDay {
		return time.DateOnly
	}
	return "2006-01-02 15:04"
}

// eighthBlocks are the partial blocks that end a bar, one to seven eighths of a cell wide.
var eighthBlocks = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// usageBar is a bar n/max of width cells long, in eighths of a cell, padded with spaces to
// width. A bucket with any verification gets at least an eighth, so that it shows.
func usageBar(n, maxTotal int64, width int) string {
	eighths := 0
	if maxTotal > 0 && n > 0 {
		eighths = max(int((n*int64(width)*8+maxTotal/2)/maxTotal), 1)
	}
	full, part := eighths/8, eighths%8
	bar := strings.Repeat("█", full) + eighthBlocks[part]
	cells := full
	if part > 0 {
		cells++
	}
	return bar + strings.Repeat(" ", width-cells)
}

// formatRefusals lists the outcomes other than VALID as "[RATE_LIMITED 12, USAGE_EXCEEDED 3]",
// by name; "" when there are none.
func formatRefusals(outcomes map[client.VerifyCode]int64) string {
	var parts []string
	for code, n := range outcomes {
		if code != client.VerifyValid && n > 0 {
			parts = append(parts, string(code)+" "+strconv.FormatInt(n, 10))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return "  [" + strings.Join(parts, ", ") + "]"
}

// writeUsageChart draws a usage report: one line per bucket with its start (UTC), a bar
// scaled to the largest bucket, its count and the refused verifications in brackets, then a
// total line.
func writeUsageChart(w io.Writer, u *client.Usage, width int) error {
	layout := bucketLayout(u.Granularity)
	var maxTotal int64
	for _, b := range u.Buckets {
		maxTotal = max(maxTotal, b.Total)
	}
	total := u.Total
	refused := map[client.VerifyCode]int64{}
	for _, b := range u.Buckets {
		for code, n := range b.Outcomes {
			refused[code] += n
		}
	}
	numWidth := len(strconv.FormatInt(max(total, maxTotal), 10))
	labelWidth := len(layout)
	var b strings.Builder
	for _, bucket := range u.Buckets {
		fmt.Fprintf(&b, "%-*s  %s  %*d%s\n", labelWidth, bucket.Start.UTC().Format(layout),
			usageBar(bucket.Total, maxTotal, width), numWidth, bucket.Total, formatRefusals(bucket.Outcomes))
	}
	fmt.Fprintf(&b, "%-*s  %s  %*d%s\n", labelWidth, "total", strings.Repeat(" ", width), numWidth, total, formatRefusals(refused))
	_, err := io.WriteString(w, b.String())
	return err
}
