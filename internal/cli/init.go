package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// defaultKeyFile is where `init` keeps the root keys unless told otherwise.
const defaultKeyFile = "root-keys.json"

// InitOptions configure `pgsecrets init`.
type InitOptions struct {
	*globalOptions
	// KeyFile is the root keys file to reuse or create; empty when the
	// root keys come from PGSECRETS_ROOT_KEYS.
	KeyFile string
}

func newInitCmd(g *globalOptions) *cobra.Command {
	opts := &InitOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Set up a database for pgsecrets: a root key, the schema, the settings to export",
		Long: `The first run in one command, safe to repeat:

  1. connect to the database (--database-url, else ` + settings.EnvDatabaseURL + `,
     DATABASE_URL or the libpq PG* variables), and stop there if it fails;
  2. reuse the root keys file if it exists and holds valid root keys, or
     create it (mode 0600, never over an existing file) with a new key;
  3. create the schema (` + "`pgsecrets migrate up`" + `) and register the root keys in
     the database (kid and check value, never the key itself);
  4. print the settings to export for the next commands.

The root keys file is --key-file, else --root-keys-file, else the file
in ` + settings.EnvRootKeysFile + `, else ./` + defaultKeyFile + `.
When none of these is given and ` + settings.EnvRootKeys + ` holds root
keys, those are used, and no file is written.

On a database that is already initialised with these root keys, init says
so and changes nothing. On a database already in use, it never makes a new
key: a missing key file is an error naming the root keys the database
knows, so you can point --key-file at the right file. A schema at an older
version is migrated, as ` + "`pgsecrets migrate up`" + ` would.

The database URL printed never holds a password: one in the URL is
removed, and a note says so (give it with PGPASSWORD or ~/.pgpass). Run
init as the role that owns the schema; see ` + "`pgsecrets migrate up --grant-to`" + `
for a separate runtime role.`,
		Example: `  # A local database, root keys in ./root-keys.json
  pgsecrets init --database-url postgres://app@localhost/app

  # Root keys somewhere only you can read
  pgsecrets init --database-url postgres://app@db.internal/app --key-file ~/.config/pgsecrets/app-keys.json

  # Then export what it printed, and store a first secret
  export PGSECRETS_DATABASE_URL='postgres://app@localhost/app'
  export PGSECRETS_ROOT_KEYS_FILE="$PWD/root-keys.json"
  printf %s "$TOKEN" | pgsecrets secret add --project app --name API_TOKEN`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.KeyFile != "" && opts.RootKeysFile != "" && !sameFile(opts.KeyFile, opts.RootKeysFile) {
				return usageErrorf(cmd, "--key-file and --root-keys-file name different files; pass one of the two")
			}
			return runInit(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyFile, "key-file", "", "root keys file to reuse, or to create with mode 0600 (default --root-keys-file, then $"+settings.EnvRootKeysFile+", then ./"+defaultKeyFile+")")
	return cmd
}

// sameFile compares two paths as given, made absolute.
func sameFile(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// initReport is what init did, for --output json and the text summary.
type initReport struct {
	Database           string          `json:"database"`
	Schema             string          `json:"schema"`
	Version            int32           `json:"version"`
	AlreadyInitialized bool            `json:"already_initialized"`
	RootKeysFile       string          `json:"root_keys_file,omitempty"`
	RootKeysCreated    bool            `json:"root_keys_file_created"`
	RootKeys           []string        `json:"root_keys"`
	Applied            []migrationJSON `json:"applied"`
	Registered         []string        `json:"registered_root_keys"`
	// Env is what to export; the database URL never holds a password.
	Env             map[string]string `json:"env"`
	PasswordRemoved bool              `json:"password_removed"`

	urlHidden bool // a key=value string with a password: not printed
}

func runInit(ctx context.Context, opts *InitOptions) error {
	pool, cfg, err := opts.Connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep := initReport{Database: store.PoolTarget(pool), Schema: cfg.Schema, Applied: []migrationJSON{}, Registered: []string{}}
	say := func(format string, args ...any) {
		if !opts.JSON() {
			fmt.Fprintf(opts.IO.Out, format+"\n", args...)
		}
	}
	say("Connected to database %s.", rep.Database)

	status, err := store.Status(ctx, pool, cfg.Schema)
	if err != nil {
		return err
	}
	if status.Current > status.Latest {
		return &store.SchemaVersionError{Schema: status.Schema, Current: status.Current, Latest: status.Latest}
	}
	if err := initRootKeys(opts, &rep, say, func() error { return refuseNewKeyForDatabaseInUse(ctx, pool, cfg, status) }); err != nil {
		return err
	}

	if status.Current < status.Latest {
		migrated, err := store.Migrate(ctx, pool, cfg.Schema, func(version int32, name string) {
			rep.Applied = append(rep.Applied, migrationJSON{Version: version, Name: name})
		})
		if err != nil {
			return fmt.Errorf("%w; nothing was migrated%s", err, keptKeyFile(&rep))
		}
		status = migrated
		for _, m := range rep.Applied {
			say("Applied migration %d (%s)", m.Version, m.Name)
		}
	}
	rep.Version = status.Current
	// Opening the store with the root key registers them, or refuses keys
	// that are not this database's, as every command would.
	registered, err := registerRootKeysAfterMigrate(ctx, &MigrateUpOptions{globalOptions: opts.globalOptions})
	if err != nil {
		return fmt.Errorf("%w%s", err, keptKeyFile(&rep))
	}
	rep.Registered = append(rep.Registered, registered...)
	rep.AlreadyInitialized = len(rep.Applied) == 0 && len(rep.Registered) == 0 && !rep.RootKeysCreated

	initEnv(opts, &rep)
	if opts.JSON() {
		return writeJSON(opts.IO.Out, rep)
	}
	return writeInitSummary(opts.IO.Out, &rep)
}

// initRootKeys finds the root keys to use (PGSECRETS_ROOT_KEYS, or a file
// to reuse), or creates the file with a new key unless mayCreate refuses,
// and points the rest of the command at them.
func initRootKeys(opts *InitOptions, rep *initReport, say func(string, ...any), mayCreate func() error) error {
	file := cmp.Or(opts.KeyFile, opts.RootKeysFile)
	if file == "" && os.Getenv(settings.EnvRootKeys) != "" {
		keys, err := settings.RootKeys("", "")
		if err != nil {
			return err
		}
		opts.warnAll(keys.Warnings)
		rep.RootKeys = keys.Ring.RootKIDs()
		say("Using the root keys in %s (%s); no file written.", settings.EnvRootKeys, strings.Join(rep.RootKeys, ", "))
		return nil
	}
	file = cmp.Or(file, os.Getenv(settings.EnvRootKeysFile), defaultKeyFile)
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("root keys file %s: %w", file, err)
	}
	rep.RootKeysFile = abs
	if os.Getenv(settings.EnvRootKeys) != "" {
		opts.warn(settings.Warning{
			Summary: "Root keys set twice",
			Detail:  fmt.Sprintf("%s is set, and pgsecrets reads it before %s: unset it, so that later commands use %s", settings.EnvRootKeys, settings.EnvRootKeysFile, abs),
		})
	}

	switch _, err := os.Stat(abs); {
	case err == nil:
		keys, err := settings.RootKeys("", abs)
		if err != nil {
			return fmt.Errorf("%w; init changed nothing: fix the file, move it away, or pass --key-file", err)
		}
		opts.warnAll(keys.Warnings)
		rep.RootKeys = keys.Ring.RootKIDs()
		opts.KeyFile, opts.RootKeysFile = abs, abs // for every later step
		say("Using the existing root keys file %s (%s).", abs, strings.Join(rep.RootKeys, ", "))
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("root keys file: %w", err)
	}

	if err := mayCreate(); err != nil {
		return fmt.Errorf("root keys file %s does not exist, and %w; point --key-file at the file holding its root keys: init makes a new key only for a new database, and changed nothing", abs, err)
	}
	key, err := keyring.Generate("", "dir", "A256GCM")
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	content, err := newKeyFileContent(key)
	if err != nil {
		return err
	}
	if err := createKeyFile(abs, content); err != nil {
		return err
	}
	rep.RootKeysCreated, rep.RootKeys = true, []string{key.KID}
	opts.KeyFile, opts.RootKeysFile = abs, abs // for every later step
	say("Created root keys file %s (mode 0600) with new key %s. Back it up: without it, nothing it encrypts can be read.", abs, key.KID)
	return nil
}

// refuseNewKeyForDatabaseInUse stops init from making a new root key for a
// database that already holds keys or secrets: they need the keys they
// were written with. The store is opened on init's pool without root keys,
// whatever the environment names: the file it names is the one missing.
func refuseNewKeyForDatabaseInUse(ctx context.Context, pool *pgxpool.Pool, cfg store.Config, status store.MigrationStatus) error {
	switch {
	case status.Current == 0:
		return nil
	case status.Current < status.Latest:
		return fmt.Errorf("schema %s already exists (version %d)", status.Schema, status.Current)
	}
	st, err := store.New(ctx, pool, cfg, nil) // closing it would close init's pool
	if err != nil {
		return err
	}
	usage, err := st.KeyUsage(ctx)
	if err != nil {
		return err
	}
	var roots []string
	for _, u := range usage {
		if u.Kind == "root" {
			roots = append(roots, u.KID)
		}
	}
	switch {
	case len(roots) > 0:
		return fmt.Errorf("schema %s is in use with root key(s) %s", status.Schema, strings.Join(roots, ", "))
	case len(usage) > 0:
		return fmt.Errorf("schema %s holds data keys or secrets", status.Schema)
	}
	return nil // migrated, never used: no key to strand
}

// keptKeyFile tells, after a failure, that a key file init created stays,
// to be reused by the next run.
func keptKeyFile(rep *initReport) string {
	if !rep.RootKeysCreated {
		return ""
	}
	return fmt.Sprintf("; root keys file %s was created and is kept: run init again to reuse it", rep.RootKeysFile)
}

// initEnv fills in the settings to export.
func initEnv(opts *InitOptions, rep *initReport) {
	rep.Env = map[string]string{}
	if conn := settings.DatabaseURL(opts.DatabaseURL); conn != "" {
		shown, removed, ok := withoutPassword(conn)
		if ok {
			rep.Env[settings.EnvDatabaseURL] = shown
		}
		rep.PasswordRemoved, rep.urlHidden = removed, !ok
	}
	if rep.RootKeysFile != "" {
		rep.Env[settings.EnvRootKeysFile] = rep.RootKeysFile
	}
	if rep.Schema != store.DefaultSchema {
		rep.Env[settings.EnvSchema] = rep.Schema
	}
}

// withoutPassword returns a connection string safe to print: a URL without
// the password in its user info or its query. A key=value string that may
// hold a password is not shown at all (ok false).
func withoutPassword(conn string) (shown string, removed, ok bool) {
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		if strings.Contains(strings.ToLower(conn), "password") {
			return "", false, false
		}
		return conn, false, true
	}
	u, err := url.Parse(conn)
	if err != nil {
		return "", false, false
	}
	if _, set := u.User.Password(); set {
		u.User = url.User(u.User.Username())
		removed = true
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
		removed = true
	}
	return u.String(), removed, true
}

func writeInitSummary(w io.Writer, rep *initReport) error {
	if rep.AlreadyInitialized {
		fmt.Fprintf(w, "Already initialised: schema %s is at version %d and knows these root keys; nothing changed.\n", rep.Schema, rep.Version)
	} else {
		fmt.Fprintf(w, "Schema %s is at version %d", rep.Schema, rep.Version)
		if len(rep.Registered) > 0 {
			fmt.Fprintf(w, "; registered root key(s) %s", strings.Join(rep.Registered, ", "))
		}
		fmt.Fprintln(w, ".")
	}

	fmt.Fprintln(w, "\nExport these settings where you run pgsecrets:")
	for _, name := range []string{settings.EnvDatabaseURL, settings.EnvRootKeysFile, settings.EnvSchema} {
		if v, ok := rep.Env[name]; ok {
			fmt.Fprintf(w, "  export %s=%s\n", name, shellQuote(v))
		}
	}
	switch {
	case rep.urlHidden:
		fmt.Fprintf(w, "Set %s to your connection string without its password (init does not print it); give the password with PGPASSWORD or ~/.pgpass.\n", settings.EnvDatabaseURL)
	case rep.PasswordRemoved:
		fmt.Fprintln(w, "The password was removed from the database URL: give it with PGPASSWORD or ~/.pgpass, or add it back to the URL.")
	case rep.Env[settings.EnvDatabaseURL] == "":
		fmt.Fprintln(w, "The database is the one the libpq PG* variables name: keep them set.")
	}
	if rep.RootKeysFile == "" {
		fmt.Fprintf(w, "Keep %s set: the root keys come from it.\n", settings.EnvRootKeys)
	}
	_, err := io.WriteString(w, "\nThen store a first secret:\n  printf %s \"$TOKEN\" | pgsecrets secret add --project app --name API_TOKEN\n")
	return err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
