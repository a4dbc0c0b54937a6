package cli

import (
	"context"
	"fmt"
	"os"
	"time"

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

// connectTimeout bounds reaching the server, so an unreachable host fails
// in seconds rather than after the operating system's TCP timeout.
const connectTimeout = 20 * time.Second

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
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.DatabaseURL, "database-url", "", "PostgreSQL URL or key=value string (default $"+settings.EnvDatabaseURL+", then $DATABASE_URL, then the libpq PG* variables)")
	f.StringVar(&g.RootKeysFile, "root-keys-file", "", "file holding the root keys, a JSON array of JWKs (default $"+settings.EnvRootKeys+", then the file in $"+settings.EnvRootKeysFile+")")
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
	return nil
}

// JSON reports whether the user asked for --output json.
func (g *globalOptions) JSON() bool { return g.Output == outputJSON }

func (g *globalOptions) storeConfig() store.Config {
	return store.Config{
		DatabaseURL: settings.DatabaseURL(g.DatabaseURL),
		Schema:      settings.Schema(g.Schema),
		Actor:       settings.Actor(g.Actor),
		MaxConns:    g.MaxConns,
	}
}

// Connect opens a pool on the configured database without looking at the
// schema or the root keys, for commands such as `migrate`. A connection
// that may go unencrypted or unverified to another machine is warned about
// first, so the warning shows even when connecting fails.
func (g *globalOptions) Connect(ctx context.Context) (*pgxpool.Pool, store.Config, error) {
	cfg := g.storeConfig()
	if w, ok := settings.TransportWarning(cfg.DatabaseURL); ok {
		g.warn(w)
	}
	connectCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pool, err := store.Connect(connectCtx, cfg)
	if err != nil {
		if cfg.DatabaseURL == "" && !libpqConfigured() {
			return nil, cfg, fmt.Errorf("%w; no database is configured: pass --database-url or set %s", err, settings.EnvDatabaseURL)
		}
		return nil, cfg, err
	}
	return pool, cfg, nil
}

// OpenStore loads the root keys, connects, and checks that the schema is
// migrated. The caller closes the store. Root keys come first: a missing
// key is reported without waiting on the network.
func (g *globalOptions) OpenStore(ctx context.Context) (*store.Store, error) {
	return g.openStore(ctx, func(*store.Config) {})
}

// rootKeysConfigured reports whether root keys were given at all.
func (g *globalOptions) rootKeysConfigured() bool {
	return settings.RootKeysConfigured("", g.RootKeysFile)
}

// openStore is OpenStore with the store's configuration adjusted by the
// command, as `keys register` does.
func (g *globalOptions) openStore(ctx context.Context, adjust func(*store.Config)) (*store.Store, error) {
	strict, err := settings.Strict(g.Strict)
	if err != nil {
		return nil, err
	}
	keys, err := settings.RootKeys("", g.RootKeysFile)
	if err != nil {
		return nil, err
	}
	for _, w := range keys.Warnings {
		g.warn(w)
	}
	pool, cfg, err := g.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Strict = strict
	adjust(&cfg)
	st, err := store.New(ctx, pool, cfg, keys.Ring)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
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

// libpqConfigured reports whether any libpq variable that says where the
// server is has been set.
func libpqConfigured() bool {
	for _, name := range []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"} {
		if os.Getenv(name) != "" {
			return true
		}
	}
	return false
}
