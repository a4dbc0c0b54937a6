package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dashboard"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// ServeOptions configure `pgsecrets serve`.
type ServeOptions struct {
	*globalOptions
	Listen         string
	TLSCert        string
	TLSKey         string
	TrustedProxies []netip.Prefix
	Sessions       store.SessionTimeouts
}

func newServeCmd(g *globalOptions) *cobra.Command {
	opts := &ServeOptions{globalOptions: g}
	var proxies []string
	var idle, absolute string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard: secrets, model defaults and the audit trail in a browser",
		Long: `Serve the web dashboard on --listen until interrupted. Pages are rendered by
the server (no JavaScript needed) from templates built into the binary.

Everything it keeps lives in the database (accounts, sessions, sign-in
limits), so several ` + "`pgsecrets serve`" + ` behind a load balancer share one
state. It uses the same store, write policy and audit trail as the CLI and
Terraform; its audit actor is dashboard:<email> of the account signed in.
Accounts are created with ` + "`pgsecrets account add`" + `. It needs root keys,
and runs as the dashboard role (` + "`pgsecrets migrate up --grant-dashboard ROLE`" + `)
or the schema's owner: the runtime role that applications and Terraform
hold may not touch the dashboard's accounts and sessions.

Serve HTTPS directly with --tls-cert and --tls-key, or behind a proxy that
terminates TLS: name the proxy's address with --trusted-proxy, so that its
X-Forwarded-For (the client's address, for sign-in limits and the audit
trail) and X-Forwarded-Proto (https: secure cookies) are believed. They
are ignored from any other address; name only the proxies (serve warns
about 0.0.0.0/0 or ::/0, with which every client could choose its
address). Plain HTTP is for 127.0.0.1 only.

Sessions end after --session-idle without a request, and --session-max
after sign-in, whichever is first. GET /healthz answers "ok" while the
database is reachable. docs/dashboard.md has the details.`,
		Example: `  # On this machine only, for a first look
  pgsecrets serve

  # HTTPS directly
  pgsecrets serve --listen :8443 --tls-cert /etc/pgsecrets/tls.crt --tls-key /etc/pgsecrets/tls.key

  # Behind a TLS-terminating proxy at 10.0.0.0/24
  pgsecrets serve --listen 0.0.0.0:8080 --trusted-proxy 10.0.0.0/24`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return usageErrorf(cmd, "--tls-cert and --tls-key go together: give both, or neither")
			}
			for _, p := range proxies {
				prefix, err := parseProxy(p)
				if err != nil {
					return &usageError{cmd: cmd, err: err}
				}
				opts.TrustedProxies = append(opts.TrustedProxies, prefix)
			}
			for _, d := range []struct {
				flag, value string
				into        *time.Duration
			}{{"session-idle", idle, &opts.Sessions.Idle}, {"session-max", absolute, &opts.Sessions.Absolute}} {
				v, ok := audit.ParseDuration(d.value)
				if !ok || v < time.Minute {
					return usageErrorf(cmd, "--%s %q is not a duration of a minute or more, e.g. 30m or 12h", d.flag, d.value)
				}
				*d.into = v
			}
			if opts.Sessions.Idle > opts.Sessions.Absolute {
				return usageErrorf(cmd, "--session-idle %s is longer than --session-max %s", idle, absolute)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address to listen on, host:port")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file")
	f.StringVar(&opts.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringSliceVar(&proxies, "trusted-proxy", nil, "address or CIDR of a proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable)")
	f.StringVar(&idle, "session-idle", "30m", "end a session after this long without a request")
	f.StringVar(&absolute, "session-max", "12h", "end a session this long after sign-in, however busy")
	return cmd
}

// parseProxy reads a CIDR or a single address. An IPv4-mapped IPv6 one
// (::ffff:10.0.0.0/104) becomes the IPv4 one it means: the dashboard
// compares clients' addresses unmapped, so as written it would match none.
func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("--trusted-proxy %q is not an address or a CIDR, e.g. 10.0.0.5 or 10.0.0.0/24", s)
}

func runServe(ctx context.Context, opts *ServeOptions) error {
	var cert *tls.Certificate
	if opts.TLSCert != "" {
		c, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert and --tls-key: %w", err)
		}
		cert = &c
	}
	e := opts.explicit()
	e.Channel, e.ApplicationName = store.ChannelDashboard, "pgsecrets-dashboard"
	if e.MaxConns == 0 {
		e.MaxConns = 16 // requests in flight, each a short transaction
	}
	st, err := opts.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckDashboardRole(ctx); err != nil {
		return err
	}
	// A root key held by a key service has its session key opened now, one
	// call each, rather than on a visitor's first request.
	if err := st.LoadSessionKeys(ctx); err != nil {
		return err
	}
	srv, err := dashboard.New(dashboard.Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(opts.IO.ErrOut, nil)),
		TrustedProxies: opts.TrustedProxies, TLS: cert != nil, Sessions: opts.Sessions,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// An audit download of millions of events takes a while.
		WriteTimeout:   30 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(slog.NewTextHandler(opts.IO.ErrOut, nil).WithAttrs([]slog.Attr{slog.String("from", "net/http")}), slog.LevelWarn),
	}
	scheme := "http"
	if cert != nil {
		scheme = "https"
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	opts.warnPlainHTTP(ln.Addr(), cert != nil)
	opts.warnProxyIsEveryone()
	fmt.Fprintf(opts.IO.Out, "Dashboard at %s://%s (Ctrl-C to stop)\n", scheme, displayAddr(ln.Addr()))
	return serveUntilDone(ctx, hs, ln)
}

// serveUntilDone serves until ctx ends, then lets requests in flight finish
// for a few seconds.
func serveUntilDone(ctx context.Context, hs *http.Server, ln net.Listener) error {
	done := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			done <- hs.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			done <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stop serving: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// warnPlainHTTP warns when passwords and values would cross a network in
// clear: plain HTTP on an address other than loopback, with no TLS proxy
// named in front.
func (opts *ServeOptions) warnPlainHTTP(addr net.Addr, tlsOn bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if tlsOn || !ok || tcp.IP.IsLoopback() || len(opts.TrustedProxies) > 0 {
		return
	}
	fmt.Fprintf(opts.IO.ErrOut, "Warning: serving plain HTTP on %s: passwords and secret values would cross the network unencrypted; give --tls-cert and --tls-key, or put a TLS proxy in front and name it with --trusted-proxy\n", addr)
}

// warnProxyIsEveryone warns when a --trusted-proxy covers every address of
// its family: every client is then a trusted proxy, and chooses with
// X-Forwarded-For the address its sign-ins are limited and recorded by.
func (opts *ServeOptions) warnProxyIsEveryone() {
	var all []string
	for _, p := range opts.TrustedProxies {
		if p.Bits() == 0 {
			all = append(all, p.String())
		}
	}
	if len(all) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Warning: --trusted-proxy %s trusts every address: every client can then choose, with X-Forwarded-For, the address its sign-ins are limited and recorded by; name only your proxies' addresses\n", strings.Join(all, ", "))
	}
}

// displayAddr is an address a browser can open: a wildcard host becomes
// 127.0.0.1.
func displayAddr(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return addr.String()
}
