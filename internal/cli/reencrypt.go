package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/gctune"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// ReencryptOptions configure `pgsecrets reencrypt`.
type ReencryptOptions struct {
	*globalOptions
	Project   string
	BatchSize int
	Workers   int
	DryRun    bool
	// RotateProjectKey gives --project a new key before re-encrypting it.
	RotateProjectKey bool
	// RotateOlderThan, as given ("90d"), rotates every project key older
	// than that first.
	RotateOlderThan string
	// BindUnbound binds ciphertexts that carry no binding to their rows.
	BindUnbound bool
	// RetryFor is how long to keep retrying while the database is
	// unreachable.
	RetryFor time.Duration
	// ProgressInterval is how often a plain progress line is printed when
	// stdout is not a terminal.
	ProgressInterval time.Duration
}

func newReencryptCmd(g *globalOptions) *cobra.Command {
	opts := &ReencryptOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "reencrypt",
		Short: "Rewrap keys under the first root key and move secrets to their project's key",
		Long: `Rewrap every project key and data key not wrapped under the first root key,
then re-encrypt every secret (and kept earlier value) that is not under its
project's primary key or not bound to its row and revision. Values never
change, nor do revisions: Terraform sees no difference. Audit chain keys
move to the first root key too, and those of other root keys are retired,
so that the old root keys can then be removed and ` + "`pgsecrets audit verify`" + `
still works.

Two rotations, both run by this command (docs/rotation.md):

  Root key: put the new root key first in the key file, keep the old one
  after it, and run reencrypt. Once every secret is under a project key,
  that rewraps one key per project and re-encrypts nothing: it takes
  milliseconds, whatever the number of secrets.

  A project's key: --rotate-project-key --project P gives P a new key and
  re-encrypts P's secrets only; --rotate-older-than 90d does the same for
  every project whose key is older. A retired key is destroyed once
  nothing is under it.

A store from before project keys moves with a first plain run: each
project gets its key, and every secret moves under it.

A ciphertext that carries no binding at all (written by another tool, or
planted by someone who can write to the database) opens in any row. It is
listed and left alone unless --bind-unbound is given: check those secrets'
values first, since binding them vouches that they belong where they are.

Online: Terraform and other writers keep working. Each batch locks its rows
(FOR NO KEY UPDATE SKIP LOCKED), rewrites them with a compare-and-swap on
revision and commits with one audit event naming the secrets (never their
values). A row busy or changed meanwhile is re-read in a final sweep.

Resumable: nothing but the rows records progress. Killed at any point
(kill -9, a lost connection, a database restart), a batch either committed
whole or not at all; run the same command again to finish.

Parallel: --workers batches at once in this process, and any number of
reencrypt processes, on any machines, may run together: row locks share the
work out.

Failovers: while the database is unreachable (a managed database's failover,
a restart), batches are retried with backoff for --retry-for (default 2m),
with a line on stderr each time; past that, the run stops and can be run
again.

Progress: a bar on stderr when stdout is a terminal, else a plain line on
stderr every 10 seconds. At the end, a summary on stdout (--output json for
a machine). Secrets whose kid is in no key of the keyring are listed with
their count, and the exit status is then 1, after everything else was done.
A ciphertext that fails to decrypt (moved or tampered) is listed likewise.`,
		Example: `  # See what would change, per key
  pgsecrets reencrypt --dry-run

  # After putting a new root key first: rewrap the project keys
  pgsecrets reencrypt

  # Rotate one project's key, and every key older than 90 days
  pgsecrets reencrypt --project billing --rotate-project-key
  pgsecrets reencrypt --rotate-older-than 90d

  # Re-encrypt everything with 4 workers, summary as JSON
  pgsecrets reencrypt --workers 4 --output json

  # After checking the unbound secrets it listed, bind them too
  pgsecrets reencrypt --bind-unbound

  # Only one project's secrets (keys are always all rewrapped)
  pgsecrets reencrypt --project billing --batch-size 500`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := store.CheckReencryptBatch("--batch-size", opts.BatchSize); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			if opts.Workers < 0 {
				return usageErrorf(cmd, "--workers %d is out of range: use 1 or more", opts.Workers)
			}
			if opts.ProgressInterval <= 0 {
				return usageErrorf(cmd, "--progress-interval must be positive")
			}
			if opts.RotateProjectKey && opts.Project == "" {
				return usageErrorf(cmd, "--rotate-project-key needs --project: the project whose key to rotate")
			}
			if opts.RotateProjectKey && opts.RotateOlderThan != "" {
				return usageErrorf(cmd, "--rotate-project-key and --rotate-older-than both choose keys to rotate: give one")
			}
			var olderThan time.Duration
			if opts.RotateOlderThan != "" {
				d, ok := audit.ParseDuration(strings.TrimSpace(opts.RotateOlderThan))
				if !ok || d <= 0 {
					return usageErrorf(cmd, "--rotate-older-than %q is not a positive duration: give days (90d), hours or minutes (36h, 90m)", opts.RotateOlderThan)
				}
				olderThan = d
			}
			return runReencrypt(cmd.Context(), opts, olderThan)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "only this project's secrets (default: every project)")
	f.IntVar(&opts.BatchSize, "batch-size", reencrypt.DefaultBatchSize, "secrets per transaction")
	f.IntVar(&opts.Workers, "workers", 0, "batches run at once in this process (default: one more than the CPUs)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would change, per key, and change nothing")
	f.BoolVar(&opts.RotateProjectKey, "rotate-project-key", false, "give --project a new key first, then re-encrypt its secrets under it")
	f.StringVar(&opts.RotateOlderThan, "rotate-older-than", "", "first rotate every project key older than this (90d, 36h), then re-encrypt those projects")
	f.DurationVar(&opts.RetryFor, "retry-for", reencrypt.DefaultRetryFor, "keep retrying this long while the database is unreachable (a failover, a restart); 0 to fail at once")
	f.BoolVar(&opts.BindUnbound, "bind-unbound", false, "also bind ciphertexts that carry no binding to the rows they are in (check them first)")
	f.DurationVar(&opts.ProgressInterval, "progress-interval", 10*time.Second, "how often to print a progress line when stdout is not a terminal")
	_ = f.MarkHidden("progress-interval")
	return cmd
}

// runReencrypt runs a reencrypt; olderThan is --rotate-older-than, parsed.
func runReencrypt(ctx context.Context, opts *ReencryptOptions, olderThan time.Duration) error {
	if !opts.DryRun {
		defer gctune.FewerGCs(48 << 20)()
	}
	workers := opts.Workers
	if workers == 0 {
		workers = reencrypt.DefaultWorkers()
	}
	// One connection per worker; batches reload data keys through their own.
	opts.MaxConns = int32(workers)
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	rep := newProgressReporter(opts.IO, opts.ProgressInterval)
	sum, runErr := reencrypt.Run(ctx, st, reencrypt.Options{
		Project: opts.Project, BatchSize: opts.BatchSize, Workers: workers, DryRun: opts.DryRun, BindUnbound: opts.BindUnbound,
		RotateProjectKey: opts.RotateProjectKey, RotateOlderThan: olderThan,
		Progress: rep.update,
		RetryFor: retryFor(opts.RetryFor),
		OnRetry: func(err error, wait time.Duration) {
			rep.note(fmt.Sprintf("Database unreachable (%s); retrying in %s, for up to %s in all (--retry-for).", oneLine(err), wait.Round(100*time.Millisecond), opts.RetryFor))
		},
	})
	rep.finish()
	if sum.RootKID == "" {
		return runErr // nothing was started
	}
	if ctx.Err() != nil {
		fmt.Fprintf(opts.IO.ErrOut, "Interrupted after re-encrypting %d secret(s); every batch either committed or rolled back: run reencrypt again to finish.\n", sum.Reencrypted)
		return runErr
	}
	if opts.JSON() {
		if err := writeJSON(opts.IO.Out, sum); err != nil {
			return err
		}
	} else if err := writeReencryptSummary(opts.IO.Out, sum); err != nil {
		return err
	}
	return runErr
}

// retryFor maps the flag to reencrypt.Options: 0 on the command line means
// no retries, where 0 in Options means the default.
func retryFor(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func writeReencryptSummary(w io.Writer, sum reencrypt.Summary) error {
	if sum.DryRun {
		return writeReencryptPlan(w, sum)
	}
	if len(sum.ProjectKeysRotated) > 0 {
		fmt.Fprintf(w, "Rotated the key of %d project(s): %s\n", len(sum.ProjectKeysRotated), strings.Join(sum.ProjectKeysRotated, ", "))
	}
	fmt.Fprintf(w, "Rewrapped %d project key(s) and %d data key(s) under root key %s; re-encrypted %d secret(s) under their projects' keys, in %s (%d worker(s), batches of %d).\n",
		sum.ProjectKeysRewrapped, len(sum.DataKeysRewrapped), sum.RootKID, sum.Reencrypted, formatSeconds(sum.ElapsedSeconds), sum.Workers, sum.BatchSize)
	fmt.Fprintf(w, "  re-encrypted:     %d\n", sum.Reencrypted)
	fmt.Fprintf(w, "  already current:  %s\n", currentLine(sum))
	fmt.Fprintf(w, "  retried:          %d\n", sum.Retried)
	fmt.Fprintf(w, "  failed:           %d\n", sum.Failed)
	if len(sum.DataKeysRewrapped) > 0 {
		fmt.Fprintf(w, "Rewrapped data key(s): %s\n", strings.Join(sum.DataKeysRewrapped, ", "))
	}
	if len(sum.ProjectKeysDeleted) > 0 {
		fmt.Fprintf(w, "Destroyed %d retired project key(s) that nothing was under any more.\n", len(sum.ProjectKeysDeleted))
	}
	if len(sum.Failures) > 0 {
		fmt.Fprintln(w, "Could not decrypt:")
		t := newTable(w, "PROJECT", "NAME", "KID", "REASON")
		for _, f := range sum.Failures {
			t.row(orDash(f.Project), f.Name, f.KID, f.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if n := sum.Failed - int64(len(sum.Failures)); n > 0 {
			fmt.Fprintf(w, "... and %d more\n", n)
		}
	}
	return writeUnknownKIDs(w, sum.UnknownKIDs)
}

func writeReencryptPlan(w io.Writer, sum reencrypt.Summary) error {
	fmt.Fprintf(w, "Dry run: nothing changed. First root key: %s.\n", sum.RootKID)
	if len(sum.ProjectKeysRotated) > 0 {
		fmt.Fprintf(w, "Would rotate the key of %d project(s), then re-encrypt their secrets: %s\n", len(sum.ProjectKeysRotated), strings.Join(sum.ProjectKeysRotated, ", "))
	}
	// Only kids with work are listed: after a root rotation there are none.
	if len(sum.Plan.KIDs) > 0 {
		t := newTable(w, "KID", "KIND", "SECRETS", "TO BIND", "TO RE-ENCRYPT")
		for _, k := range sum.Plan.KIDs {
			t.row(k.KID, k.Kind, strconv.FormatInt(k.Secrets, 10), strconv.FormatInt(k.ToBind, 10), strconv.FormatInt(k.Pending, 10))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	for _, r := range sum.Plan.Rewrap {
		fmt.Fprintf(w, "Would rewrap %s and %s wrapped by %s under root key %s.\n", count(r.ProjectKeys, "project key"), count(r.DataKeys, "data key"), r.WrappingKID, sum.RootKID)
	}
	fmt.Fprintf(w, "Would rewrap %s, re-encrypt %s; already current: %s.\n",
		count(sum.ProjectKeysToRewrap, "project key"), count(sum.Reencrypted, "secret"), currentLine(sum))
	return writeUnknownKIDs(w, sum.UnknownKIDs)
}

// currentLine says what was already under its project's key: a count of
// secrets for one project, of project keys over the whole store (whose
// secrets are not read).
func currentLine(sum reencrypt.Summary) string {
	if sum.AlreadyCurrent != nil {
		return count(*sum.AlreadyCurrent, "secret")
	}
	return count(sum.ProjectKeysCurrent, "project key") + " holding all their project's secrets"
}

// count formats n things with thousands separators: "1,000 project keys".
func count(n int64, thing string) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n != 1 {
		thing += "s"
	}
	return s + " " + thing
}

func writeUnknownKIDs(w io.Writer, unknown []reencrypt.KIDCount) error {
	if len(unknown) == 0 {
		return nil
	}
	fmt.Fprintln(w, "In no key of the keyring (add the root key back, or enable the data key, then run reencrypt again):")
	t := newTable(w, "KID", "SECRETS", "DATA KEYS")
	for _, u := range unknown {
		t.row(u.KID, strconv.FormatInt(u.Secrets, 10), strconv.FormatInt(u.DataKeys, 10))
	}
	return t.flush()
}

func formatSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// progressReporter shows a run's progress on stderr: a bar when stdout is
// a terminal, else a plain line every interval, which reads well in CI logs.
type progressReporter struct {
	ios      *IOStreams
	interval time.Duration
	start    time.Time

	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	last     reencrypt.Progress
	lastLine time.Time
}

func newProgressReporter(ios *IOStreams, interval time.Duration) *progressReporter {
	now := time.Now()
	return &progressReporter{ios: ios, interval: interval, start: now, lastLine: now}
}

func (p *progressReporter) update(pr reencrypt.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = pr
	if p.ios.OutIsTerminal {
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(pr.Total,
				progressbar.OptionSetWriter(p.ios.ErrOut),
				progressbar.OptionSetDescription("re-encrypting"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("secrets"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetWidth(30),
				progressbar.OptionClearOnFinish(),
			)
		}
		if pr.Total != p.bar.GetMax64() {
			p.bar.ChangeMax64(pr.Total)
		}
		_ = p.bar.Set64(pr.Done)
		return
	}
	if now := time.Now(); now.Sub(p.lastLine) >= p.interval {
		p.lastLine = now
		p.printLine(now)
	}
}

func (p *progressReporter) printLine(now time.Time) {
	pr := p.last
	elapsed := now.Sub(p.start)
	rate := float64(pr.Done) / elapsed.Seconds()
	line := fmt.Sprintf("reencrypt: %d/%d secrets", pr.Done, pr.Total)
	if pr.Total > 0 {
		line += fmt.Sprintf(" (%d%%)", pr.Done*100/pr.Total)
	}
	line += fmt.Sprintf(", %.0f/s", rate)
	if rate > 0 && pr.Total > pr.Done {
		eta := time.Duration(float64(pr.Total-pr.Done) / rate * float64(time.Second))
		line += ", ETA " + eta.Round(time.Second).String()
	}
	fmt.Fprintln(p.ios.ErrOut, line)
}

// note prints a line about the run (a retry, say) without garbling the bar.
func (p *progressReporter) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.ios.ErrOut, line)
}

func (p *progressReporter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
