package settings

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// ConnectError is a failure to reach the database, told once, on one line:
// the target (user@host:port/dbname, never the password), the setting that
// named it, and why. pgx tries every address of every host, and with
// sslmode=prefer each one twice (TLS, then plaintext), and reports every
// attempt; what a person needs is the server's own refusal when one attempt
// got that far, else the network's error.
type ConnectError struct {
	Target string
	// Source is where the database URL came from (the caller's setting,
	// PGSECRETS_DATABASE_URL, DATABASE_URL, or the PG* variables set); ""
	// when nothing named a database and pgx's defaults were tried.
	Source string
	// Setting is the caller's name for its database URL setting, for the
	// hint given when Source is "".
	Setting string
	// Err is the store's error, for errors.As (*store.ConnectError,
	// *pgconn.PgError).
	Err error
}

func (e *ConnectError) Error() string {
	msg := "connect to database " + e.Target
	if e.Source != "" {
		msg += " (from " + e.Source + ")"
	}
	cause := e.Err
	var ce *store.ConnectError
	if errors.As(cause, &ce) {
		cause = ce.Err // without the store's own "connect to database" prefix
	}
	msg += ": " + connectReason(cause)
	if e.Source == "" {
		msg += "; " + notConfiguredHint(e.Setting)
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

// notConfiguredHint says where to name the database, in words that suit a
// flag and an attribute alike.
func notConfiguredHint(setting string) string {
	where := EnvDatabaseURL
	if setting != "" {
		where = setting + " or " + where
	}
	return "no database is configured: give its URL in " + where
}

// connectReason says why a connection failed: the server's refusal, else
// the network's error, else the last attempt's.
func connectReason(err error) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, pgconn.ErrReadOnlyConnection):
		// target_session_attrs=read-write, and every server that answered
		// is a standby.
		return "no server named takes writes (each one that answered is a read-only standby): the primary is down or a failover is under way"
	case errors.As(err, &pgErr):
		return serverRefusal(pgErr)
	case errors.As(err, &dnsErr):
		return "cannot resolve host " + dnsErr.Name + ": " + dnsErr.Err
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return "timed out waiting for the server"
	case errors.As(err, &opErr):
		return networkReason(opErr)
	}
	return lastAttempt(err)
}

// serverRefusal is the server's own error line, with what its SQLSTATE
// means when the code alone would not say.
func serverRefusal(e *pgconn.PgError) string {
	code := "SQLSTATE " + e.Code
	if meaning, ok := connectSQLStates[e.Code]; ok {
		code += ": " + meaning
	}
	return e.Severity + ": " + e.Message + " (" + code + ")"
}

// connectSQLStates are the refusals a server gives at connection time
// (PostgreSQL's Appendix A), in words.
var connectSQLStates = map[string]string{
	"28000": "this role may not log in here: no such role, or pg_hba.conf refuses it",
	"28P01": "wrong password",
	"3D000": "no such database",
	"42501": "no permission to connect to this database",
	"53300": "too many connections",
	"57P03": "the server is not accepting connections now",
	"08P01": "protocol violation",
}

// networkReason is the operating system's word for a failed dial
// ("connection refused"), without the address, which the target names.
func networkReason(e *net.OpError) string {
	var sysErr *os.SyscallError
	if errors.As(e, &sysErr) {
		return sysErr.Err.Error()
	}
	return e.Err.Error()
}

// lastAttempt is the last attempt's error without pgx's address prefix,
// which repeats the target: a TLS failure, say, when every attempt needed
// TLS.
func lastAttempt(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		if attempts := joined.Unwrap(); len(attempts) > 0 {
			err = attempts[len(attempts)-1]
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
		}
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
