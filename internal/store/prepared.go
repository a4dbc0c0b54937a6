package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Named prepared statements save the server parsing and planning a
// write's statements every time, a good part of its CPU per write. But a
// transaction pooler (PgBouncer before 1.21, or without
// max_prepared_statements) runs a client's consecutive transactions on
// different server connections, where a statement prepared on one is
// missing, or already there, on the next. So Connect keeps pgx's
// cache_describe mode (unnamed statements), and a write prepares its
// statements only on a connection it has found to be direct.

// directKey marks, in a connection's custom data, whether it reaches the
// server directly.
const directKey = "pgsecrets.direct"

// noteDirect records, once per connection, whether conn reaches the server
// directly: serverPID, the pg_backend_pid() a statement returned, is the
// process id the server announced when conn started. A pooler announces
// one of its own making (PgBouncer: a random one), since the server
// connection behind it changes. A URL that chose its own query mode keeps
// it.
func noteDirect(conn *pgx.Conn, serverPID uint32) {
	data := conn.PgConn().CustomData()
	if _, known := data[directKey]; known {
		return
	}
	data[directKey] = serverPID == conn.PgConn().PID() &&
		conn.Config().DefaultQueryExecMode == pgx.QueryExecModeCacheDescribe
}

// prepareWrites prepares, once per connection and only on one known to be
// direct, the statements of a write: a batch whose SQL is one of them then
// runs it by name.
func (s *Store) prepareWrites(ctx context.Context, conn *pgx.Conn) error {
	data := conn.PgConn().CustomData()
	if direct, _ := data[directKey].(bool); !direct || data[preparedKey] != nil {
		return nil
	}
	for _, sql := range []string{s.heldValueSQL(), s.startWriteSQL(), s.lockHeadSQL(), s.writeSQL(true), s.writeSQL(false)} {
		if _, err := conn.Prepare(ctx, sql, sql); err != nil {
			return err
		}
	}
	data[preparedKey] = true
	return nil
}

// preparedKey marks, in a connection's custom data, that prepareWrites
// prepared its statements.
const preparedKey = "pgsecrets.prepared"
