package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// exitRestartNeeded is `status --exit-code`'s answer when at least one
// secret changed that needs an application restart.
const exitRestartNeeded = 3

// exitCodeError ends a command with a specific exit code and no message:
// the command has already said what there is to say.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return "exit status " + strconv.Itoa(e.code) }

// StatusOptions configure `pgsecrets status`.
type StatusOptions struct {
	*globalOptions
	Project string
	// Since, when not zero, lists changes after it instead of those since
	// the last recorded restart.
	Since    time.Time
	ExitCode bool
	// Ack records that the project's application was restarted.
	Ack bool
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	opts := &StatusOptions{globalOptions: g}
	var since string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which applications need a restart for changed secrets, and record restarts",
		Long: `Show the secrets marked requires_restart (from the catalog of well-known
secrets, or set with ` + "`secret add --requires-restart`" + `) that changed since the
application was last restarted, so a deploy pipeline can decide whether to
restart it. The dashboard shows the same notice.

Without --since, a restart is pending for a project while such a secret was
written or deleted after the last restart recorded for the project with
--ack (by a deploy hook, or the dashboard's button). With --since, the
secrets written after that time are listed instead, whatever was recorded;
deleted secrets are then not listed (see ` + "`pgsecrets audit export`" + `).
--since takes RFC 3339 (2025-01-31T08:00:00Z), a date (2025-01-31, midnight
UTC), or a duration before now (90m, 24h, 7d), as ` + "`audit export`" + ` does.

--ack records that the project's application was restarted: the changes
pending until now are done. It needs --project and root keys (it is an
audited event); the rest of the command needs no root keys.

Exit status: 0 on success; with --exit-code, 0 when no restart is needed
and 3 when one is; 1 on error, 2 when the command line is wrong.`,
		Example: `  # In a deploy pipeline: restart only when a restart-bound secret changed,
  # and record the restart so the dashboard's notice clears
  if ! pgsecrets status --project billing --exit-code; then
    kubectl rollout restart deployment/billing
    pgsecrets status --project billing --ack
  fi

  # What changed in the last day, whatever restarts were recorded
  pgsecrets status --since 24h --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			if opts.Ack {
				if err := requireFlags(cmd, "project"); err != nil {
					return err
				}
				if since != "" || opts.ExitCode {
					return usageErrorf(cmd, "--ack records a restart; it does not combine with --since or --exit-code")
				}
				return runStatusAck(cmd.Context(), opts)
			}
			if since != "" {
				t, err := audit.ParseExportTime("since", since, time.Now())
				if err != nil {
					return &usageError{cmd: cmd, err: err}
				}
				opts.Since = t
				return runStatusSince(cmd.Context(), opts)
			}
			return runStatusPending(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "list changes after this time instead of since the last recorded restart: RFC 3339, a date, or a duration ago such as 24h or 7d")
	cmd.Flags().StringVar(&opts.Project, "project", "", "only this project's secrets")
	cmd.Flags().BoolVar(&opts.ExitCode, "exit-code", false, "exit with status 3 when a restart is needed, 0 when not")
	cmd.Flags().BoolVar(&opts.Ack, "ack", false, "record that the project's application was restarted (needs --project)")
	return cmd
}

func runStatusSince(ctx context.Context, opts *StatusOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	changed, err := st.ChangedSince(ctx, opts.Project, opts.Since)
	if err != nil {
		return err
	}

	if opts.JSON() {
		if changed == nil {
			changed = []store.SecretMeta{}
		}
		err = writeJSON(opts.IO.Out, struct {
			Since           time.Time          `json:"since"`
			RestartRequired bool               `json:"restart_required"`
			Secrets         []store.SecretMeta `json:"secrets"`
		}{opts.Since.UTC(), len(changed) > 0, changed})
	} else if len(changed) == 0 {
		fmt.Fprintf(opts.IO.Out, "No restart needed: no secret marked requires_restart changed since %s.\n", formatTime(opts.Since))
	} else {
		fmt.Fprintf(opts.IO.Out, "Restart needed: %d secret(s) marked requires_restart changed since %s:\n", len(changed), formatTime(opts.Since))
		t := newTable(opts.IO.Out, "PROJECT", "NAME", "CATEGORY", "REVISION", "UPDATED", "UPDATED BY")
		for _, s := range changed {
			t.row(s.Project, s.Name, orDash(s.Category), strconv.FormatInt(s.Revision, 10), formatTime(s.UpdatedAt), s.UpdatedBy)
		}
		err = t.flush()
	}
	if err != nil {
		return err
	}
	return opts.restartExit(len(changed) > 0)
}

// restartExit is the exit status --exit-code asks for.
func (opts *StatusOptions) restartExit(needed bool) error {
	if opts.ExitCode && needed {
		return &exitCodeError{code: exitRestartNeeded}
	}
	return nil
}

func runStatusPending(ctx context.Context, opts *StatusOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	pending, err := st.PendingRestarts(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.JSON() {
		if pending == nil {
			pending = []store.PendingRestart{}
		}
		err = writeJSON(opts.IO.Out, struct {
			RestartRequired bool                   `json:"restart_required"`
			Pending         []store.PendingRestart `json:"pending"`
		}{len(pending) > 0, pending})
	} else {
		err = writePendingRestarts(opts, pending)
	}
	if err != nil {
		return err
	}
	return opts.restartExit(len(pending) > 0)
}

func writePendingRestarts(opts *StatusOptions, pending []store.PendingRestart) error {
	out := opts.IO.Out
	if len(pending) == 0 {
		fmt.Fprintln(out, "No restart pending: no secret marked requires_restart changed since the last recorded restart.")
		return nil
	}
	t := newTable(out, "PROJECT", "NAME", "CHANGE", "CHANGED", "CHANGED BY", "LAST RESTART")
	projects := make([]string, len(pending))
	for i, p := range pending {
		projects[i] = p.Project
		last := "never recorded"
		if p.LastAck != nil {
			last = formatTime(p.LastAck.AckedAt) + " by " + p.LastAck.AckedBy
		}
		for _, c := range p.Changes {
			change := "revision " + strconv.FormatInt(c.Revision, 10)
			if c.Deleted {
				change = "deleted"
			}
			t.row(p.Project, c.Name, change, formatTime(c.ChangedAt), orDash(c.ChangedBy), last)
		}
	}
	fmt.Fprintf(out, "Restart pending for %s:\n", strings.Join(projects, ", "))
	if err := t.flush(); err != nil {
		return err
	}
	project := "PROJECT"
	if len(projects) == 1 {
		project = projects[0]
	}
	fmt.Fprintf(out, "After restarting, record it: pgsecrets status --project %s --ack\n", project)
	return nil
}

func runStatusAck(ctx context.Context, opts *StatusOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ack, covered, err := st.AckRestart(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.JSON() {
		if covered == nil {
			covered = []store.RestartChange{}
		}
		return writeJSON(opts.IO.Out, struct {
			store.RestartAck
			Covered []store.RestartChange `json:"covered"`
		}{ack, covered})
	}
	names := make([]string, len(covered))
	for i, c := range covered {
		names[i] = c.Name
	}
	what := "nothing was pending"
	if len(names) > 0 {
		what = "it covers " + strings.Join(names, ", ")
	}
	fmt.Fprintf(opts.IO.Out, "Recorded a restart of project %s at %s; %s.\n", opts.Project, formatTime(ack.AckedAt), what)
	return nil
}
