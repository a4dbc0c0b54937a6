package settings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// ConnectTimeout bounds reaching the server, so an unreachable host fails
// in seconds rather than after the operating system's TCP timeout.
const ConnectTimeout = 20 * time.Second

// DefaultApplicationName is what the server shows for pgsecrets'
// connections (pg_stat_activity, logs) unless told otherwise.
const DefaultApplicationName = "pgsecrets"

// Explicit holds what a caller was told directly, by a CLI flag or a
// provider attribute. An empty field falls back to the environment, then to
// a default, the same way for every caller.
type Explicit struct {
	DatabaseURL string
	// ReadURL reaches a standby of DatabaseURL's server, for reads that
	// may lag (see store.Config.ReadURL); used only with UseReadURL.
	ReadURL      string
	RootKeysJSON string
	RootKeysFile string
	Schema       string
	Actor        string
	// ActorDefaultPrefix goes before the default actor (user@host) only:
	// an actor someone chose is recorded as given.
	ActorDefaultPrefix string
	// MaxConns bounds the pool; 0 keeps pgx's default.
	MaxConns int32
	Strict   bool
	// Channel is the caller's store.Channel*, recorded with every secret
	// it writes.
	Channel string
	// ApplicationName is what the server shows for these connections
	// unless the connection string or PGAPPNAME names one; empty means
	// DefaultApplicationName.
	ApplicationName string

	// DatabaseURLSetting names the caller's database URL setting in
	// messages, e.g. "--database-url" or "database_url"; ReadURLSetting
	// its read URL setting.
	DatabaseURLSetting string
	ReadURLSetting     string

	// UseReadURL lets the store read from ReadURL, else PGSECRETS_READ_URL.
	// Callers that write, or that must read the latest (--consistent),
	// leave it false: their store never reaches the read URL.
	UseReadURL bool

	// RequireRootKeys makes missing root keys an error. Without it, a
	// caller given no root keys gets a store that reads metadata only
	// (store.HasKeys false); root keys that are given are always loaded
	// and validated.
	RequireRootKeys bool
	// AllowUnregisteredRootKeys opens the store even when the database
	// knows none of the root keys, for `pgsecrets key register`.
	AllowUnregisteredRootKeys bool
}

// Setting names a setting that cannot be used, for callers that point at
// their own flag or attribute.
type Setting string

// Settings an error may blame.
const (
	SettingDatabaseURL Setting = "database URL"
	SettingReadURL     Setting = "read URL"
	SettingRootKeys    Setting = "root keys"
	SettingSchema      Setting = "schema"
	SettingStrict      Setting = "strict"
)

// SettingError is a setting that is wrong before any connection is tried.
// Its message is the cause's: it already says what to change.
type SettingError struct {
	Setting Setting
	Err     error
}

func (e *SettingError) Error() string { return e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

// Open resolves the settings, loads the root keys, connects and checks
// that the schema is migrated; the caller closes the store. The warnings
// (a root keys file others can read, an unverified connection) come back
// even when opening fails: they may say why. Root keys are read before
// connecting, so a missing key is reported without waiting on the network.
func Open(ctx context.Context, e Explicit) (*store.Store, []Warning, error) {
	r, err := resolve(e)
	if err != nil {
		return nil, nil, err
	}
	keys, err := rootKeysFor(e)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	for {
		pool, warnings, err := r.connect(ctx)
		warnings = append(keys.Warnings, warnings...)
		if err != nil {
			return nil, warnings, err
		}
		st, err := store.New(ctx, pool, r.Config, keys.Ring)
		if err == nil {
			return st, warnings, nil
		}
		target := store.PoolTarget(pool)
		pool.Close()
		if !store.IsConnectionLoss(err) {
			return nil, warnings, err
		}
		// The server went away between the connection and the first
		// reads (a failover): connecting again waits for the new primary.
		if time.Since(start) > ConnectTimeout {
			return nil, warnings, &ConnectError{Target: target, Source: r.urlSource, Setting: r.urlSetting, Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, warnings, &ConnectError{Target: target, Source: r.urlSource, Setting: r.urlSetting, Err: err}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Connect resolves the settings and opens a pool on the database without
// looking at the schema or the root keys, for migrations. It returns the
// resolved configuration, whose Schema the migrations work in.
func Connect(ctx context.Context, e Explicit) (*pgxpool.Pool, store.Config, []Warning, error) {
	r, err := resolve(e)
	if err != nil {
		return nil, r.Config, nil, err
	}
	pool, warnings, err := r.connect(ctx)
	return pool, r.Config, warnings, err
}

// resolved is the store's configuration as resolved from Explicit, and
// what messages about the connection need to say.
type resolved struct {
	store.Config
	urlSource       string // the setting the database URL came from; "" for none
	urlSetting      string // the caller's name for its database URL setting
	applicationName string
}

// resolve turns e into the store's configuration: explicit values, else
// the environment, else the defaults.
func resolve(e Explicit) (resolved, error) {
	url, source := resolveDatabaseURL(e.DatabaseURL, e.DatabaseURLSetting)
	r := resolved{
		Config: store.Config{
			DatabaseURL:               url,
			Schema:                    Schema(e.Schema),
			Actor:                     Actor(e.Actor, e.ActorDefaultPrefix),
			Channel:                   e.Channel,
			MaxConns:                  e.MaxConns,
			AllowUnregisteredRootKeys: e.AllowUnregisteredRootKeys,
		},
		urlSource:       source,
		urlSetting:      e.DatabaseURLSetting,
		applicationName: first(e.ApplicationName, DefaultApplicationName),
	}
	if e.UseReadURL {
		r.ReadURL, r.ReadURLSource = ReadURL(e.ReadURL, e.ReadURLSetting)
		// The read pool is made with the store, from the Config alone.
		r.ApplicationName = r.applicationName
		if r.ReadURL != "" {
			if err := store.ValidateReadURL(r.ReadURL); err != nil {
				return r, &SettingError{Setting: SettingReadURL, Err: fmt.Errorf("%w (from %s)", err, r.ReadURLSource)}
			}
		}
	}
	if err := store.ValidateSchema(r.Schema); err != nil {
		return r, &SettingError{Setting: SettingSchema, Err: err}
	}
	strict, err := Strict(e.Strict)
	if err != nil {
		return r, &SettingError{Setting: SettingStrict, Err: err}
	}
	r.Strict = strict
	return r, nil
}

// rootKeysFor loads the root keys e needs: always when it requires them or
// some are given, and none otherwise.
func rootKeysFor(e Explicit) (LoadedRootKeys, error) {
	if !e.RequireRootKeys && !RootKeysConfigured(e.RootKeysJSON, e.RootKeysFile) {
		return LoadedRootKeys{}, nil
	}
	keys, err := RootKeys(e.RootKeysJSON, e.RootKeysFile)
	if err != nil {
		return keys, &SettingError{Setting: SettingRootKeys, Err: err}
	}
	return keys, nil
}

// connect opens a pool on the database within ConnectTimeout. A connection
// that may go unencrypted or unverified to another machine is warned about
// whether or not it works.
func (r resolved) connect(ctx context.Context) (*pgxpool.Pool, []Warning, error) {
	var warnings []Warning
	if w, ok := TransportWarning(r.DatabaseURL); ok {
		warnings = append(warnings, w)
	}
	if r.ReadURL != "" {
		if w, ok := TransportWarning(r.ReadURL); ok {
			warnings = append(warnings, w)
		}
	}
	cfg := r.Config
	cfg.ApplicationName = r.applicationName
	connectCtx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	pool, err := store.Connect(connectCtx, cfg)
	if err != nil {
		return nil, warnings, r.connectFailure(err)
	}
	return pool, warnings, nil
}

// connectFailure tells a failure to connect once, with the setting that
// named the database, or what to set when none did.
func (r resolved) connectFailure(err error) error {
	var ce *store.ConnectError
	switch {
	case errors.As(err, &ce):
		return &ConnectError{Target: ce.Target, Source: r.urlSource, Setting: r.urlSetting, Err: err}
	case r.urlSource == "":
		return fmt.Errorf("%w; %s", err, notConfiguredHint(r.urlSetting))
	default:
		// The URL itself is wrong; the store's message never quotes it.
		return &SettingError{Setting: SettingDatabaseURL, Err: fmt.Errorf("%w (from %s)", err, r.urlSource)}
	}
}

// Key identifies the store that e opens in this process's environment, for
// a caller that keeps one store per configuration. It is a digest: it
// holds neither key material nor a password.
func (e Explicit) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%#v", e)
	for _, name := range append([]string{EnvDatabaseURL, EnvReadURL, "DATABASE_URL", EnvRootKeys, EnvRootKeysFile, EnvSchema, EnvActor, EnvStrict, "PGAPPNAME"}, libpqServerVariables...) {
		fmt.Fprintf(h, "\x00%s=%s", name, os.Getenv(name))
	}
	return hex.EncodeToString(h.Sum(nil))
}
