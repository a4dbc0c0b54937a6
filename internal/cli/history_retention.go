package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// HistoryRetentionOptions configure `pgsecrets history retention`.
type HistoryRetentionOptions struct {
	*globalOptions
	// Project is "" for the default of every project without its own.
	Project    string
	Keep       int
	MaxAge     time.Duration
	DeletedFor time.Duration
	// KeepSet, MaxAgeSet and DeletedForSet say which flags were given:
	// with none, the command shows the retention; the others keep the
	// value in force.
	KeepSet, MaxAgeSet, DeletedForSet bool
}

func (o *HistoryRetentionOptions) setting() bool { return o.KeepSet || o.MaxAgeSet || o.DeletedForSet }

func newHistoryRetentionCmd(g *globalOptions) *cobra.Command {
	opts := &HistoryRetentionOptions{globalOptions: g}
	var maxAge, deletedFor string
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Show or set how much history secrets keep",
		Long: `Show the history retention in force for a project (or, without --project,
the default for every project without its own), or set it with any of:

  --keep N            earlier values each secret keeps, besides its current one
  --max-age D         how long an earlier value is kept once replaced
  --deleted-for D     how long a deleted secret can be brought back with
                      ` + "`pgsecrets secret undelete`" + `

D is days (90d), hours or minutes (36h, 90m), or both (1d12h); 0 (for
--keep too) means no limit. The default after ` + "`pgsecrets migrate up`" + ` is no
limit on earlier values and 30d for deleted secrets.

A project's own retention replaces the default as a whole: flags not given
keep the value in force now (the default's, the first time). The limits
apply to a secret's history at its next write; ` + "`pgsecrets history prune`" + `
applies them to every secret now, and is the only thing that removes
deleted secrets past their window.

Showing needs no root keys; setting is audited and needs them.`,
		Example: `  # What is in force for billing, and whether it is billing's own
  pgsecrets history retention --project billing

  # Keep the last 20 values for at most 90 days; undelete within 7 days
  pgsecrets history retention --project billing --keep 20 --max-age 90d --deleted-for 7d

  # The default for every project without its own
  pgsecrets history retention --keep 10
  pgsecrets history retention --output json | jq .deleted_for_seconds`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			opts.KeepSet = cmd.Flags().Changed("keep")
			opts.MaxAgeSet = cmd.Flags().Changed("max-age")
			opts.DeletedForSet = cmd.Flags().Changed("deleted-for")
			if opts.Keep < 0 {
				return usageErrorf(cmd, "--keep %d is negative: give how many earlier values to keep, or 0 for no limit", opts.Keep)
			}
			var err error
			if opts.MaxAgeSet {
				if opts.MaxAge, err = parseRetentionDuration("max-age", maxAge); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			if opts.DeletedForSet {
				if opts.DeletedFor, err = parseRetentionDuration("deleted-for", deletedFor); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			return runHistoryRetention(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "the project (default: the default retention of every project without its own)")
	cmd.Flags().IntVar(&opts.Keep, "keep", 0, "earlier values each secret keeps, besides the current one (0: no limit)")
	cmd.Flags().StringVar(&maxAge, "max-age", "", "how long an earlier value is kept once replaced, e.g. 90d (0: no limit)")
	cmd.Flags().StringVar(&deletedFor, "deleted-for", "", "how long a deleted secret can be undeleted, e.g. 30d (0: no limit)")
	return cmd
}

func runHistoryRetention(ctx context.Context, opts *HistoryRetentionOptions) error {
	open := opts.OpenMetadataStore
	if opts.setting() {
		open = opts.OpenStore // the change is audited
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.GetRetention(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.setting() {
		r.Project, r.Inherited = opts.Project, false
		if opts.KeepSet {
			r.Keep = opts.Keep
		}
		if opts.MaxAgeSet {
			r.MaxAge = opts.MaxAge
		}
		if opts.DeletedForSet {
			r.DeletedFor = opts.DeletedFor
		}
		if err := st.SetRetention(ctx, r); err != nil {
			return err
		}
		if r, err = st.GetRetention(ctx, opts.Project); err != nil {
			return err
		}
	}

	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Project           string `json:"project"`
			Inherited         bool   `json:"inherited"`
			Keep              int    `json:"keep"`
			MaxAgeSeconds     int64  `json:"max_age_seconds"`
			DeletedForSeconds int64  `json:"deleted_for_seconds"`
		}{r.Project, r.Inherited, r.Keep, int64(r.MaxAge.Seconds()), int64(r.DeletedFor.Seconds())})
	}
	out := opts.IO.Out
	if opts.setting() {
		fmt.Fprintf(out, "Set the history retention of %s:\n", projectLabel(opts.Project))
	} else {
		source := ""
		switch {
		case opts.Project == "":
		case r.Inherited:
			source = " (the default: the project has no retention of its own)"
		default:
			source = " (the project's own)"
		}
		fmt.Fprintf(out, "History retention of %s%s:\n", projectLabel(opts.Project), source)
	}
	writeRetention(out, r)
	if opts.setting() {
		fmt.Fprintln(out, "It applies to a secret's history at its next write; `pgsecrets history prune` applies it to every secret now.")
	}
	return nil
}

// writeRetention prints the three limits, labelled by their flags.
func writeRetention(w io.Writer, r store.Retention) {
	keep := "no limit"
	if r.Keep > 0 {
		keep = strconv.Itoa(r.Keep)
	}
	fmt.Fprintf(w, "  keep         %-9s earlier values each secret keeps\n", keep)
	fmt.Fprintf(w, "  max-age      %-9s how long an earlier value is kept once replaced\n", limitLabel(r.MaxAge))
	fmt.Fprintf(w, "  deleted-for  %-9s how long a deleted secret can be undeleted\n", limitLabel(r.DeletedFor))
}

func limitLabel(d time.Duration) string {
	if d == 0 {
		return "no limit"
	}
	return formatRetentionDuration(d)
}
