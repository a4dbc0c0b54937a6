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
// runs it by name. A write learns whether its connection is direct from
// its first statement (startWriteSQL), so that a one-shot command pays no
// round trip to find out.
func (s *Store) prepareWrites(ctx context.Context, conn *pgx.Conn) error {
	data := conn.PgConn().CustomData()
	if direct, _ := data[directKey].(bool); !direct || data[preparedKey] != nil {
		return nil
	}
	if err := prepare(ctx, conn, s.heldValueSQL(), s.startWriteSQL(), s.lockHeadSQL(), s.writeSQL(true), s.writeSQL(false)); err != nil {
		return err
	}
	data[preparedKey] = true
	return nil
}

// preparedKey marks, in a connection's custom data, that prepareWrites
// prepared its statements.
const preparedKey = "pgsecrets.prepared"

// sendPrepared sends b on a pooled connection, its statements prepared
// when the connection is direct, which it finds out once per connection.
// It is for the reads a long-running process repeats on every request
// (the dashboard's session and Secrets page), where planning each
// statement again is a good part of the server's work.
func (s *Store) sendPrepared(ctx context.Context, b *pgx.Batch) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	c := conn.Conn()
	if _, known := c.PgConn().CustomData()[directKey]; !known {
		var pid uint32
		if err := c.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		noteDirect(c, pid)
	}
	if direct, _ := c.PgConn().CustomData()[directKey].(bool); direct {
		sqls := make([]string, len(b.QueuedQueries))
		for i, q := range b.QueuedQueries {
			sqls[i] = q.SQL
		}
		if err := prepare(ctx, c, sqls...); err != nil {
			return err
		}
	}
	return conn.SendBatch(ctx, b).Close()
}

// prepare prepares each statement on conn under its own SQL as its name,
// unless conn has it already (pgx keeps them by name, and answers a
// second Prepare of the same statement without asking the server).
func prepare(ctx context.Context, conn *pgx.Conn, sqls ...string) error {
	for _, sql := range sqls {
		if _, err := conn.Prepare(ctx, sql, sql); err != nil {
			return err
		}
	}
	return nil
}
