package cli

import (
	"context"
	"fmt"
	"strconv"
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
	Project  string
	Since    time.Time
	ExitCode bool
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	opts := &StatusOptions{globalOptions: g}
	var since string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List secrets changed since a time that need an application restart",
		Long: `List the secrets written after --since that are marked requires_restart
(from the catalog of well-known secrets, or set with ` + "`secret add --requires-restart`" + `),
so a deploy pipeline can decide whether to restart the application.

--since takes RFC 3339 (2025-01-31T08:00:00Z), a date (2025-01-31, midnight
UTC), or a duration before now (90m, 24h, 7d), as ` + "`audit export`" + ` does.
Deleted secrets are not listed (see ` + "`pgsecrets audit export`" + `). Needs no
root keys.

Exit status: 0 on success; with --exit-code, 0 when no restart is needed
and 3 when one is; 1 on error, 2 when the command line is wrong.`,
		Example: `  # In a deploy pipeline: restart only when a restart-bound secret changed
  if ! pgsecrets status --project billing --since "$LAST_DEPLOY" --exit-code; then
    kubectl rollout restart deployment/billing
  fi

  pgsecrets status --since 24h --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "since"); err != nil {
				return err
			}
			if opts.Project != "" {
				if err := store.ValidateProject(opts.Project); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			t, err := audit.ParseExportTime("since", since, time.Now())
			if err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			opts.Since = t
			return runStatus(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "list changes after this time: RFC 3339, a date, or a duration ago such as 24h or 7d (required)")
	cmd.Flags().StringVar(&opts.Project, "project", "", "only this project's secrets")
	cmd.Flags().BoolVar(&opts.ExitCode, "exit-code", false, "exit with status 3 when a restart is needed, 0 when not")
	return cmd
}

func runStatus(ctx context.Context, opts *StatusOptions) error {
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
	if opts.ExitCode && len(changed) > 0 {
		return &exitCodeError{code: exitRestartNeeded}
	}
	return nil
}
