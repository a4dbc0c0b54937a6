package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// HistoryPruneOptions configure `pgsecrets history prune`.
type HistoryPruneOptions struct {
	*globalOptions
	// Project is "" for every project.
	Project string
}

func newHistoryPruneCmd(g *globalOptions) *cobra.Command {
	opts := &HistoryPruneOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the history the retention no longer keeps",
		Long: `Apply the history retention (` + "`pgsecrets history retention`" + `) now, to every
project or one, in one audited transaction:
  - earlier values beyond --keep, or replaced longer ago than --max-age;
  - deleted secrets whose --deleted-for window has passed, with their
    whole history (they can no longer be undeleted).
Current values are never removed.

A write already applies --keep and --max-age to the secret it writes, but
nothing else runs on a schedule: run prune regularly (a daily cron job)
so that old values of untouched secrets, and expired deleted secrets, do
not stay in the database. Prints what it removed.`,
		Example: `  pgsecrets history prune
  pgsecrets history prune --project billing --output json | jq .versions`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			return runHistoryPrune(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "prune only this project's history (default: every project)")
	return cmd
}

func runHistoryPrune(ctx context.Context, opts *HistoryPruneOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.PruneHistory(ctx, opts.Project)
	if err != nil {
		return err
	}

	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Project string `json:"project"`
			store.PruneResult
		}{opts.Project, res})
	}
	scope := "every project"
	if opts.Project != "" {
		scope = "project " + opts.Project
	}
	if res.Versions+res.DeletedVersions == 0 {
		fmt.Fprintf(opts.IO.Out, "Nothing to prune in %s: the history is within its retention.\n", scope)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "Pruned the history of %s: %d earlier value(s) past the retention; %d deleted secret(s) past their undelete window, with %d revision(s).\n",
		scope, res.Versions, res.DeletedSecrets, res.DeletedVersions)
	return nil
}
