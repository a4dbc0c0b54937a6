package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Output formats of --output.
const (
	outputText = "text"
	outputJSON = "json"
)

// globalOptions are the persistent flags every command shares, and what is
// derived from them. Empty values fall back to the environment through
// internal/settings, exactly as the provider does.
type globalOptions struct {
	IO      *IOStreams
	Version string

	DatabaseURL  string
	RootKeysFile string
	Schema       string
	Actor        string
	Output       string
	Strict       bool

	// MaxConns, when set by a command before it opens the store, sizes the
	// connection pool (reencrypt needs one per worker, plus one).
	MaxConns int32

	// warned holds the warnings already printed, so a command that opens
	// the store more than once still warns once.
	warned map[string]bool
	// target names the database this command connected to, for errors.
	target string
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.DatabaseURL, "database-url", "", "PostgreSQL URL or key=value string (default $"+settings.EnvDatabaseURL+", then $DATABASE_URL, then the libpq PG* variables)")
	f.StringVar(&g.RootKeysFile, "root-keys-file", "", "file holding the root keys, a JSON array of JWKs and key service references such as {\"kid\": \"...\", \"aws_kms\": {...}} (default $"+settings.EnvRootKeys+", then the file in $"+settings.EnvRootKeysFile+"); a PKCS#11 key's PIN comes from $PGSECRETS_PKCS11_PIN or the file in $PGSECRETS_PKCS11_PIN_FILE")
	f.StringVar(&g.Schema, "schema", "", "schema holding the pgsecrets tables (default $"+settings.EnvSchema+", then \""+store.DefaultSchema+"\")")
	f.StringVar(&g.Actor, "actor", "", "identity recorded in audit events (default $"+settings.EnvActor+", then user@host)")
	f.StringVar(&g.Output, "output", outputText, "output format: text or json")
	f.BoolVar(&g.Strict, "strict", false, "refuse ciphertexts not bound to their secret and revision (default $"+settings.EnvStrict+"); see docs/security.md")
}

// validate checks the global flags before any command runs.
func (g *globalOptions) validate(cmd *cobra.Command) error {
	if g.Output != outputText && g.Output != outputJSON {
		return usageErrorf(cmd, "--output %q is not supported: use text or json", g.Output)
	}
	noticeOldFlags(cmd, g.IO.ErrOut)
	return nil
}

// JSON reports whether the user asked for --output json.
func (g *globalOptions) JSON() bool { return g.Output == outputJSON }

// explicit is what the flags say, for internal/settings to complete from
// the environment exactly as it does for the provider. Root keys are
// required unless a command asks for less.
func (g *globalOptions) explicit() settings.Explicit {
	return settings.Explicit{
		DatabaseURL:        g.DatabaseURL,
		RootKeysFile:       g.RootKeysFile,
		Schema:             g.Schema,
		Actor:              g.Actor,
		MaxConns:           g.MaxConns,
		Strict:             g.Strict,
		Channel:            store.ChannelCLI,
		DatabaseURLSetting: "--database-url",
		RequireRootKeys:    true,
	}
}

// Connect opens a pool on the configured database without looking at the
// schema or the root keys, for commands such as `migrate`.
func (g *globalOptions) Connect(ctx context.Context) (*pgxpool.Pool, store.Config, error) {
	pool, cfg, warnings, err := settings.Connect(ctx, g.explicit())
	g.warnAll(warnings)
	if err == nil {
		g.target = store.PoolTarget(pool)
	}
	return pool, cfg, err
}

// OpenStore loads the root keys, connects, and checks that the schema is
// migrated. The caller closes the store.
func (g *globalOptions) OpenStore(ctx context.Context) (*store.Store, error) {
	return g.openStore(ctx, g.explicit())
}

// OpenMetadataStore is OpenStore for commands that read no value: without
// root keys it opens a store that reads metadata only, so those commands
// run where the credential that decrypts everything is not given. Root
// keys that are given are loaded and checked as always.
func (g *globalOptions) OpenMetadataStore(ctx context.Context) (*store.Store, error) {
	e := g.explicit()
	e.RequireRootKeys = false
	return g.openStore(ctx, e)
}

// rootKeysConfigured reports whether root keys were given at all.
func (g *globalOptions) rootKeysConfigured() bool {
	return settings.RootKeysConfigured("", g.RootKeysFile)
}

// openStore opens the store as e says, and prints its warnings.
func (g *globalOptions) openStore(ctx context.Context, e settings.Explicit) (*store.Store, error) {
	st, warnings, err := settings.Open(ctx, e)
	g.warnAll(warnings)
	if err == nil {
		g.target = store.PoolTarget(st.Pool())
	}
	return st, err
}

// explainConnectionLoss names the database when a command that had
// connected lost its connection (a restart, a failover): pgx's message
// says what happened but not to which server. Lost while a write was
// committing, the write may or may not have been applied, and the message
// says so: a write that was applied is not applied again by running the
// same command (compare-and-swap, and PutSecretInput.SameIsDone).
func (g *globalOptions) explainConnectionLoss(err error) error {
	if g.target == "" || !store.IsConnectionLoss(err) {
		return err
	}
	switch {
	case errors.As(err, new(*store.OutcomeUnknownError)):
		return fmt.Errorf("lost the connection to database %s while a write was committing (restarted, failed over, or unreachable): %w; the outcome of this write is unknown: run the same command again", g.target, err)
	case errors.As(err, new(*store.NotAppliedError)):
		return fmt.Errorf("lost the connection to database %s (restarted, failed over, or unreachable): %w; the write that failed was not applied: run the same command again", g.target, err)
	}
	return fmt.Errorf("lost the connection to database %s (restarted, failed over, or unreachable): %w; run the same command again", g.target, err)
}

func (g *globalOptions) warnAll(warnings []settings.Warning) {
	for _, w := range warnings {
		g.warn(w)
	}
}

// warn prints a warning on stderr, once per command.
func (g *globalOptions) warn(w settings.Warning) {
	if g.warned[w.Detail] {
		return
	}
	if g.warned == nil {
		g.warned = map[string]bool{}
	}
	g.warned[w.Detail] = true
	fmt.Fprintf(g.IO.ErrOut, "Warning: %s\n", w.Detail)
}

// readURLHelp is the paragraph of --help of the commands with readFlags.
const readURLHelp = `With a read URL (--read-url, else ` + "$" + settings.EnvReadURL + `), the values are
read on that server, usually a standby, and the read's audit event is
written on the database URL's server, the primary: when it cannot be
written, the read fails and nothing is output. A standby behind the primary
may give a secret's previous revision; a secret it does not have yet is
read on the primary. --consistent reads the primary (see
docs/operations.md, "Reading from standbys").`

// readFlags are the flags of the commands whose reads may come from a
// standby (run, render, secret get): where to read, and whether the
// latest value is required.
type readFlags struct {
	ReadURL    string
	Consistent bool
}

func (r *readFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.ReadURL, "read-url", "", "PostgreSQL URL of a standby (or a multi-host URL with target_session_attrs=prefer-standby) to read the values from; the audit event still goes to --database-url's server (default $"+settings.EnvReadURL+"; see docs/operations.md)")
	f.BoolVar(&r.Consistent, "consistent", false, "read from the primary, ignoring --read-url: the latest values, never a previous revision a lagging standby may still serve")
}

// OpenStoreForReads is OpenStore for a command that only reads: its reads
// go to the read URL, if one is set, unless --consistent.
func (g *globalOptions) OpenStoreForReads(ctx context.Context, r readFlags) (*store.Store, error) {
	e := g.explicit()
	e.ReadURL, e.ReadURLSetting, e.UseReadURL = r.ReadURL, "--read-url", !r.Consistent
	return g.openStore(ctx, e)
}
