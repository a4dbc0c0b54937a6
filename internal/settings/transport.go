package settings

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// TransportWarning warns when connecting to databaseURL (as DatabaseURL
// resolved it; "" means libpq's PG* variables) would reach a server on
// another machine over a channel that is neither required to be encrypted
// nor verified. pgx, like libpq, defaults to sslmode=prefer: it falls back
// to plaintext when the server (or someone in the middle) declines TLS,
// and accepts any certificate, so the password and every ciphertext can be
// read or changed on the way. An sslmode chosen explicitly, in the string or
// in PGSSLMODE, is the operator's call and is not second-guessed.
//
// The warning names the hosts, never the URL: it may hold a password.
func TransportWarning(databaseURL string) (Warning, bool) {
	if os.Getenv("PGSSLMODE") != "" || setsSSLMode(databaseURL) {
		return Warning{}, false
	}
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return Warning{}, false // connecting reports it, without the password
	}
	hosts := unprotectedRemoteHosts(cfg)
	if len(hosts) == 0 {
		return Warning{}, false
	}
	return Warning{
		Summary: "Database connection may be unencrypted and unverified",
		Detail: fmt.Sprintf("the connection to %s sets no sslmode, so it is neither required to be encrypted nor verified "+
			"(pgx then uses sslmode=prefer, which falls back to plaintext and accepts any server certificate): "+
			"add sslmode=verify-full and sslrootcert=FILE (the CA certificate that signed the server's) to the database URL, "+
			"or set PGSSLMODE=verify-full and PGSSLROOTCERT=FILE",
			strings.Join(hosts, ", ")),
	}, true
}

// unprotectedRemoteHosts lists the hosts, other than this machine, that
// cfg may reach in plaintext or without checking the server's certificate.
// A service file or sslrootcert=system can still make the effective mode
// strict, which is why the parsed configuration is read rather than the
// string alone.
func unprotectedRemoteHosts(cfg *pgconn.Config) []string {
	var hosts []string
	for _, c := range append([]*pgconn.FallbackConfig{{Host: cfg.Host, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...) {
		if isLocalHost(c.Host) || slices.Contains(hosts, c.Host) {
			continue
		}
		plaintext := c.TLSConfig == nil
		unverified := c.TLSConfig != nil && c.TLSConfig.InsecureSkipVerify && c.TLSConfig.VerifyPeerCertificate == nil
		if plaintext || unverified {
			hosts = append(hosts, c.Host)
		}
	}
	return hosts
}

// isLocalHost reports whether host is a unix socket directory or a
// loopback name or address: traffic that never leaves the machine.
func isLocalHost(host string) bool {
	if strings.HasPrefix(host, "/") || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setsSSLMode reports whether a connection string names sslmode (or the
// URL-only alias ssl).
func setsSSLMode(conn string) bool {
	return setsParam(conn, "sslmode") || isURL(conn) && setsParam(conn, "ssl")
}

// setsParam reports whether a connection string sets the parameter name,
// in either of the forms pgx accepts.
func setsParam(conn, name string) bool {
	if isURL(conn) {
		_, query, _ := strings.Cut(conn, "?")
		values, err := url.ParseQuery(query)
		return err == nil && values.Has(name)
	}
	return slices.Contains(keywordValueKeys(conn), name)
}

// isURL reports whether a connection string is a URL rather than key=value
// pairs.
func isURL(conn string) bool {
	return strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://")
}

// keywordValueKeys returns the keywords of a libpq key=value string, such
// as "host=db sslmode=require password='a b'". Values may be quoted and use
// backslash escapes, so a value that merely contains "sslmode=" is skipped
// like any other. A malformed string gives what was read before the fault:
// pgx refuses it anyway when connecting.
func keywordValueKeys(s string) []string {
	const space = " \t\n\r\v\f"
	var keys []string
	for s = strings.TrimLeft(s, space); s != ""; s = strings.TrimLeft(s, space) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			return keys
		}
		keys = append(keys, strings.TrimSpace(key))
		s = strings.TrimLeft(rest, space)
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		end := 0
		for ; end < len(s); end++ {
			if s[end] == '\\' {
				end++
				continue
			}
			if quoted && s[end] == '\'' || !quoted && strings.IndexByte(space, s[end]) >= 0 {
				break
			}
		}
		if quoted && end < len(s) {
			end++ // the closing quote
		}
		s = s[min(end, len(s)):]
	}
	return keys
}
