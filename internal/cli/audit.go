package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/gctune"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func newAuditCmd(g *globalOptions) *cobra.Command {
	return newGroupCmd("audit", "Export and verify the audit trail",
		`  pgsecrets audit export --since 2025-01-01 --out audit.jsonl
  pgsecrets audit verify`,
		newAuditExportCmd(g),
		newAuditVerifyCmd(g),
	)
}

// AuditExportOptions configure `pgsecrets audit export`.
type AuditExportOptions struct {
	*globalOptions
	Format string
	Since  string
	Until  string
	Filter store.AuditFilter
	// File is where to write; empty means stdout.
	File string
	// CSVFormulas is the --csv-formulas value: keep or neutralise.
	CSVFormulas string
}

// csvFormulas are the values of --csv-formulas.
var csvFormulas = map[string]audit.CSVFormulas{"keep": audit.KeepFormulas, "neutralise": audit.NeutraliseFormulas}

func newAuditExportCmd(g *globalOptions) *cobra.Command {
	opts := &AuditExportOptions{globalOptions: g}
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write audit events as JSON lines or CSV",
		Long: `Write the audit events that match every filter given, oldest first (in
chain order), as JSON lines (one object per line) or CSV with a header row.
Fields, in order: ` + strings.Join(audit.ExportFields, ", ") + `.
"at" is RFC 3339 in UTC with microseconds; "details" is the event's JSON
object as text, byte for byte what the chain MAC covers. docs/audit.md
describes every field; they are stable.

Every field is the stored text, byte for byte, in CSV too: an actor is
whatever was configured, so a cell such as =HYPERLINK(...) is a live
formula to a spreadsheet. For a file to open in a spreadsheet, add
--csv-formulas neutralise: a cell starting with =, +, -, @, a tab or a
carriage return then starts with a single quote ('), which makes it text,
as in the dashboard's CSV download. Keep the default (keep) for tools and
for anything that compares the bytes.

--since is inclusive, --until exclusive; both take RFC 3339
(2025-01-31T08:00:00Z), a date (2025-01-31, midnight UTC) or a duration
before now (90m, 24h, 7d), like ` + "`pgsecrets status --since`" + `. Memory use is
constant whatever the number of events.

With --out FILE the events go to a temporary file beside FILE (mode 0600),
renamed to FILE only once complete, so an interrupted export never leaves a
truncated file that looks whole.

--output is the output format, as in every command: --output json is JSON
lines, the same as --format jsonl (and contradicts --format csv); --output
text, the default, leaves the format to --format. --output FILE, where FILE
has an extension or a directory (audit.jsonl, ./audit), is the old spelling
of --out: it still writes FILE, with a deprecation notice on stderr.

The export is itself recorded in the audit trail, with its filters. That
needs root keys; without them the events are still exported, and a warning
on stderr says the export was not recorded.`,
		Example: `  # Everything, as JSON lines, to a file
  pgsecrets audit export --out audit.jsonl

  # The last week's events
  pgsecrets audit export --since 7d --out last-week.jsonl

  # One project's reads in January, as CSV
  pgsecrets audit export --format csv --project billing --action secret.read \
    --since 2025-01-01 --until 2025-02-01 > billing-reads.csv

  # The last week, to open in a spreadsheet
  pgsecrets audit export --format csv --csv-formulas neutralise --since 7d --out last-week.csv

  # What one operator did, with jq
  pgsecrets audit export --actor alice@ops-1 | jq -c '{at, action, project, subject}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.resolve(cmd, &opts.File); err != nil {
				return err
			}
			if opts.Format != audit.FormatJSONL && opts.Format != audit.FormatCSV {
				return usageErrorf(cmd, "--format %q is not supported: use %s or %s", opts.Format, audit.FormatJSONL, audit.FormatCSV)
			}
			if opts.JSON() && opts.Format != audit.FormatJSONL {
				return usageErrorf(cmd, "--output json is JSON lines and --format %s is not: pass one of the two", opts.Format)
			}
			formulas, ok := csvFormulas[opts.CSVFormulas]
			if !ok {
				return usageErrorf(cmd, "--csv-formulas %q is not supported: use keep or neutralise", opts.CSVFormulas)
			}
			if formulas != audit.KeepFormulas && opts.Format != audit.FormatCSV {
				return usageErrorf(cmd, "--csv-formulas %s changes CSV cells, and this export is JSON lines: add --format csv", opts.CSVFormulas)
			}
			var err error
			now := time.Now()
			if opts.Since != "" {
				if opts.Filter.Since, err = audit.ParseExportTime("since", opts.Since, now); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			if opts.Until != "" {
				if opts.Filter.Until, err = audit.ParseExportTime("until", opts.Until, now); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			if !opts.Filter.Since.IsZero() && !opts.Filter.Until.IsZero() && !opts.Filter.Since.Before(opts.Filter.Until) {
				return usageErrorf(cmd, "--since %s is not before --until %s: nothing could match", opts.Since, opts.Until)
			}
			return runAuditExport(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", audit.FormatJSONL, "jsonl or csv")
	f.StringVar(&opts.Since, "since", "", "only events at or after this time: RFC 3339, a date, or a duration ago such as 24h or 7d")
	f.StringVar(&opts.Until, "until", "", "only events before this time: RFC 3339, a date, or a duration ago such as 24h or 7d")
	f.StringVar(&opts.Filter.Project, "project", "", "only events of this project")
	f.StringVar(&opts.Filter.Actor, "actor", "", "only events by this actor")
	f.StringVar(&opts.Filter.Action, "action", "", "only events with this action, e.g. secret.read")
	f.StringVar(&opts.CSVFormulas, "csv-formulas", "keep", "keep (every cell exactly as stored) or neutralise (a single quote before a cell a spreadsheet would run as a formula)")
	f.StringVar(&opts.File, "out", "", "write to this file (mode 0600, complete or not at all) instead of stdout")
	output = addOutputFlag(cmd, g, "output format: text or json (json is JSON lines, as --format jsonl)")
	return cmd
}

func runAuditExport(ctx context.Context, opts *AuditExportOptions) error {
	// An export allocates a string an event over a live set of a few
	// kilobytes: fewer collections leave the CPU to the database.
	defer gctune.FewerGCs(64 << 20)()
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if !st.HasKeys() {
		// The store skips the export's own event: it cannot seal it.
		opts.warn(settings.Warning{
			Summary: "Export not recorded in the audit trail",
			Detail:  "this export is not recorded in the audit trail: no root keys were given, and an audit event needs them",
		})
	}

	out := opts.IO.Out
	var file *atomicFile
	if opts.File != "" {
		if file, err = createAtomic(opts.File); err != nil {
			return err
		}
		defer file.abort()
		out = file
	}
	ew, err := audit.NewExportWriter(out, opts.Format, csvFormulas[opts.CSVFormulas])
	if err != nil {
		return err
	}
	n, err := st.ExportAudit(ctx, opts.Filter, opts.Format, ew.Write)
	if err != nil {
		return err
	}
	if err := ew.Close(); err != nil {
		return err
	}
	if file != nil {
		if err := file.commit(); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Exported %d audit event(s) to %s\n", n, opts.File)
	}
	return nil
}

// AuditVerifyOptions configure `pgsecrets audit verify`.
type AuditVerifyOptions struct {
	*globalOptions
	ExpectHead string
}

func newAuditVerifyCmd(g *globalOptions) *cobra.Command {
	opts := &AuditVerifyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit trail's hash chain from the first event to the last",
		Long: `Walk every audit event in order and check its keyed MAC and its link to the
event before it. The MAC keys are audit keys kept in the database wrapped
under the root keys, bound to this deployment, so someone with write access
to the database but no root key cannot edit, insert, reorder or delete
events, or pass off another deployment's chain, without breaking it.

On success, print the number of events and the head (the newest event's seq
and MAC): record the head elsewhere (CI, a ticket) and pass it back later
with --expect-head to detect deletion of the newest events, which a chain
alone cannot show.

On failure, print the first broken event and what is wrong with it, and
exit 1. It never prints a MAC it computed or a link it expected: that would
let whoever edits rows repair a forged chain one event at a time.

Only the current root keys are needed: reencrypt moves the audit keys to
the first root key when keys rotate (docs/audit.md).`,
		Example: `  pgsecrets audit verify
  # In CI: fail if anything up to yesterday's head changed or vanished
  pgsecrets audit verify --expect-head "$(cat audit-head.txt)"
  pgsecrets audit verify --output json | jq -r .head_mac > audit-head.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ExpectHead, "expect-head", "", "MAC of an earlier head, which must still be in the chain")
	return cmd
}

func runAuditVerify(ctx context.Context, opts *AuditVerifyOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	start := time.Now()
	rep, err := st.VerifyAuditChain(ctx, strings.TrimSpace(opts.ExpectHead))
	if err != nil {
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, rep)
	}
	return writeChainReport(opts.IO.Out, rep, time.Since(start))
}

func writeChainReport(w io.Writer, rep audit.ChainReport, took time.Duration) error {
	if rep.Count == 0 {
		_, err := fmt.Fprintln(w, "Audit chain is empty: no events yet.")
		return err
	}
	fmt.Fprintf(w, "Audit chain verified: %d event(s) in %s.\n", rep.Count, took.Round(time.Millisecond))
	fmt.Fprintf(w, "Head: event %d, MAC %s\n", rep.HeadSeq, rep.HeadMAC)
	if rep.ExpectedHeadSeq > 0 {
		fmt.Fprintf(w, "Expected head found at event %d (%d event(s) since).\n", rep.ExpectedHeadSeq, rep.HeadSeq-rep.ExpectedHeadSeq)
	}
	return nil
}
