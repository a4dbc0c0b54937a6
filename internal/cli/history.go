package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func newHistoryCmd(g *globalOptions) *cobra.Command {
	cmd := newGroupCmd("history", "Set and enforce how much secret history is kept",
		`  pgsecrets history retention
  pgsecrets history retention --project billing --keep 20 --max-age 90d
  pgsecrets history prune`,
		newHistoryRetentionCmd(g),
		newHistoryPruneCmd(g),
	)
	cmd.Long = `Every write of a secret keeps the value it replaces, and a delete keeps
the last value, so that ` + "`pgsecrets secret rollback`" + ` and ` + "`pgsecrets secret undelete`" + `
can undo a mistake. The retention says, per project or as the default for
all, how many earlier values each secret keeps, for how long, and how long
a deleted secret can be brought back; ` + "`history prune`" + ` removes what it no
longer keeps. One secret's history is listed by ` + "`pgsecrets secret history`" + `.`
	return cmd
}

// day is the unit of the "d" suffix in retention durations.
const day = 24 * time.Hour

// parseRetentionDuration reads a retention flag: days (90d), a Go
// duration (36h, 90m), both (1d12h), or 0 for no limit.
func parseRetentionDuration(flag, value string) (time.Duration, error) {
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "-") {
		return 0, fmt.Errorf("--%s %s is negative: give how long, e.g. 30d, or 0 for no limit", flag, value)
	}
	d, ok := audit.ParseDuration(value)
	if !ok {
		return 0, fmt.Errorf("--%s %q is not a duration: give days (90d), hours or minutes (36h, 90m), or 0 for no limit", flag, value)
	}
	if d > 100*366*day {
		return 0, fmt.Errorf("--%s %s is more than 100 years: give 0 for no limit", flag, value)
	}
	return d, nil
}

// formatRetentionDuration prints a duration the way the flags take it:
// 30d, 1d12h, 90m.
func formatRetentionDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	var b strings.Builder
	if days := d / day; days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * day
	}
	if d > 0 {
		s := d.String() // 12h0m0s, 1h30m0s, 30s, 500ms
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// undeleteHint says how long a secret deleted at deletedAt can be brought
// back under ret, and with which command.
func undeleteHint(ret store.Retention, project, name string, deletedAt, now time.Time) string {
	undelete := fmt.Sprintf("`pgsecrets secret undelete --project %s --name %s`", project, name)
	if ret.DeletedFor == 0 {
		return undelete + " brings it back (the retention sets no time limit; `pgsecrets secret destroy` removes it for good)"
	}
	deadline := deletedAt.Add(ret.DeletedFor)
	if now.Before(deadline) {
		return fmt.Sprintf("%s brings it back until %s (deleted secrets are kept %s)", undelete, formatTime(deadline), formatRetentionDuration(ret.DeletedFor))
	}
	return fmt.Sprintf("its undelete window (%s) ended %s; it is removed at the next `pgsecrets history prune`", formatRetentionDuration(ret.DeletedFor), formatTime(deadline))
}

// projectLabel names a retention's scope in messages.
func projectLabel(project string) string {
	if project == "" {
		return "the default (every project without its own)"
	}
	return "project " + project
}
