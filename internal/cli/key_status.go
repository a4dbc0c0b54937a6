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

// KeyStatusOptions configure `pgsecrets key status`.
type KeyStatusOptions struct {
	*globalOptions
	// Project limits the listing to that project's keys.
	Project string
}

func newKeyStatusCmd(g *globalOptions) *cobra.Command {
	opts := &KeyStatusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every key and how many secrets use it",
		Long: `Show, per key id: whether it is a root key (from the configured root keys),
a global data key (wrapped in the database) or unknown (named by secrets
but in no key: those secrets cannot be decrypted); its state; how many
secrets it encrypts, and how many earlier versions (the history kept for
rollback and undelete); how many of those are unbound (their ciphertext
names no row: it would open in any row) and row-only (bound to their row
but not to its revision, as written before revisions were bound); and, for
a root key, how many global data keys and project keys it wraps. Bindings
are read from the ciphertexts themselves.

Then the project keys, one table: each project's key (primary) and the
retired ones that still encrypt some of its history, the root key that
wraps each, its age, and how many secrets and earlier versions it
encrypts. Last, whether the store is on project keys: a store upgraded
with secrets from before them keeps writing under the first root key or
the global primary data key until ` + "`pgsecrets reencrypt`" + ` moves it.
--project P shows only project P's keys.

` + "`pgsecrets reencrypt`" + ` binds row-only ciphertexts fully; unbound ones only
with --bind-unbound. Once both columns are 0 everywhere, turn on strict mode
(--strict, PGSECRETS_STRICT=true, or the provider's strict).

Registered root keys the configured ones lack (retired ones, or another
host's) are listed with state "registered". A warning is printed on stderr
for every unknown key, and for every such registered key that still
encrypts secrets or wraps project keys (they cannot be decrypted here).
Reads no secret value and no wrapped key. Needs no root keys (the planner
role runs it too): without them, every registered root key is listed with
state "registered".

--output json prints one array of keys: root, data, project (with their
project, wrapping_kid and created_at) and unknown, told apart by "kind"; a
store not yet on project keys is then said in a notice on stderr.`,
		Example: `  pgsecrets key status
  pgsecrets key status --project billing
  pgsecrets key status --output json | jq '.[] | select(.kind == "unknown")'
  pgsecrets key status --output json | jq '.[] | select(.kind == "project") | {project, kid, created_at}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			return runKeyStatus(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "show only this project's keys")
	return cmd
}

// keyStatusRow is a key as `key status --output json` prints it: a project
// key also says which root key wraps it and when it was made.
type keyStatusRow struct {
	store.KeyUsage
	WrappingKID string     `json:"wrapping_kid,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
}

func runKeyStatus(ctx context.Context, opts *KeyStatusOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var usage []store.KeyUsage
	if opts.Project == "" {
		if usage, err = st.KeyUsage(ctx); err != nil {
			return err
		}
	}
	projectKeys, err := st.ListProjectKeys(ctx, opts.Project)
	if err != nil {
		return err
	}
	since, onProjectKeys, err := st.ProjectKeysSince(ctx)
	if err != nil {
		return err
	}

	if opts.JSON() {
		rows := []keyStatusRow{}
		for _, u := range usage {
			if u.Kind != "project" {
				rows = append(rows, keyStatusRow{KeyUsage: u})
			}
		}
		for _, k := range projectKeys {
			rows = append(rows, keyStatusRow{
				KeyUsage:    store.KeyUsage{KID: k.KID, Kind: "project", State: k.State, Project: k.Project, Secrets: k.Secrets, Versions: k.Versions},
				WrappingKID: k.WrappingKID, CreatedAt: &k.CreatedAt,
			})
		}
		if err = writeJSON(opts.IO.Out, rows); err == nil && !onProjectKeys {
			// Not a key: said beside the array, which scripts read as it was.
			fmt.Fprintln(opts.IO.ErrOut, "Notice: "+notOnProjectKeys)
		}
	} else {
		err = printKeyStatus(opts.IO.Out, usage, projectKeys, since, onProjectKeys, opts.Project)
	}
	if err != nil {
		return err
	}
	warnKeyStatus(opts.IO.ErrOut, usage, st.HasKeys())
	return nil
}

func printKeyStatus(w io.Writer, usage []store.KeyUsage, projectKeys []store.ProjectKeyUsage, since time.Time, onProjectKeys bool, project string) error {
	if project == "" {
		t := newTable(w, "KID", "KIND", "STATE", "SECRETS", "VERSIONS", "UNBOUND", "ROW-ONLY", "DATA KEYS", "PROJECT KEYS")
		for _, u := range usage {
			if u.Kind == "project" {
				continue // in the table of project keys below
			}
			dataKeys, projKeys := "-", "-"
			if u.Kind == "root" {
				dataKeys, projKeys = strconv.FormatInt(u.DataKeys, 10), strconv.FormatInt(u.ProjectKeys, 10)
			}
			t.row(u.KID, u.Kind, orDash(u.State), strconv.FormatInt(u.Secrets, 10), strconv.FormatInt(u.Versions, 10), strconv.FormatInt(u.Unbound, 10), strconv.FormatInt(u.RowOnly, 10), dataKeys, projKeys)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	if len(projectKeys) == 0 && onProjectKeys {
		if project != "" {
			fmt.Fprintf(w, "Project %s has no key: it gets one with its first secret.\n", project)
		} else {
			fmt.Fprintln(w, "No project keys: a project gets one with its first secret.")
		}
	} else if len(projectKeys) > 0 {
		now := time.Now()
		t := newTable(w, "PROJECT", "KID", "STATE", "WRAPPED BY", "AGE", "SECRETS", "VERSIONS")
		for _, k := range projectKeys {
			t.row(k.Project, k.KID, k.State, k.WrappingKID, formatAge(k.CreatedAt, now), strconv.FormatInt(k.Secrets, 10), strconv.FormatInt(k.Versions, 10))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if onProjectKeys {
		fmt.Fprintf(w, "Project keys: in use since %s; every project's new values go under its own key.\n", formatTime(since))
	} else {
		fmt.Fprintln(w, notOnProjectKeys)
	}
	return nil
}

const notOnProjectKeys = "Project keys: not yet; new values go under the first root key or the global primary data key until `pgsecrets reencrypt` moves the store (docs/rotation.md)."

// warnKeyStatus warns, on stderr, of what cannot be decrypted here.
func warnKeyStatus(w io.Writer, usage []store.KeyUsage, haveKeys bool) {
	for _, u := range usage {
		if u.Inconsistent > 0 {
			fmt.Fprintf(w, "Warning: %d secret(s) listed under key %q have a ciphertext that names another key or cannot be read: their rows were edited in the database.\n", u.Inconsistent, u.KID)
		}
		if u.Kind == "root" && u.State == "registered" && haveKeys && u.Secrets+u.Versions > 0 {
			fmt.Fprintf(w, "Warning: %d secret(s) and %d version(s) are encrypted with root key %q, which the database has registered but the configured root keys lack: they cannot be decrypted until that key is added back to the root keys.\n", u.Secrets, u.Versions, u.KID)
		}
		if u.Kind == "root" && u.State == "registered" && haveKeys && u.ProjectKeys > 0 {
			fmt.Fprintf(w, "Warning: %d project key(s) are wrapped by root key %q, which the database has registered but the configured root keys lack: their projects' secrets cannot be decrypted until that key is added back to the root keys, or `pgsecrets reencrypt` is run where it is.\n", u.ProjectKeys, u.KID)
		}
		if u.Kind == "unknown" {
			fmt.Fprintf(w, "Warning: %d secret(s) are encrypted with key %q, which is neither a root key nor a data key: they cannot be decrypted until that key is added back to the root keys.\n", u.Secrets, u.KID)
		}
	}
}
