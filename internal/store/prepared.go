package store

import (
	"context"
	"fmt"

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

// isDirect reports whether conn is known to reach the server directly.
func isDirect(conn *pgx.Conn) bool {
	direct, _ := conn.PgConn().CustomData()[directKey].(bool)
	return direct
}

// writeStatements are the statements of a write, built once per store
// (its schema never changes) rather than for every write.
type writeStatements struct{ held, start, lockHead, insert, update string }

func (s *Store) buildWriteStatements() writeStatements {
	return writeStatements{held: s.heldValueSQL(), start: s.startWriteSQL(), lockHead: s.lockHeadSQL(), insert: s.writeSQL(true), update: s.writeSQL(false)}
}

// prepareWrites prepares the statements of a write on conn when it is
// known to be direct: a batch whose SQL is one of them then runs it by
// name. A write learns whether its connection is direct from its first
// statement (startWriteSQL), so that a one-shot command pays no round trip
// to find out; after the first time, prepare asks the server nothing.
func (s *Store) prepareWrites(ctx context.Context, conn *pgx.Conn) error {
	if !isDirect(conn) {
		return nil
	}
	w := s.writes
	return prepare(ctx, conn, w.held, w.start, w.lockHead, w.insert, w.update)
}

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
			return fmt.Errorf("read the server process of a connection: %w", err)
		}
		noteDirect(c, pid)
	}
	if isDirect(c) {
		sqls := make([]string, len(b.QueuedQueries))
		for i, q := range b.QueuedQueries {
			sqls[i] = q.SQL
		}
		if err := prepare(ctx, c, sqls...); err != nil {
			return fmt.Errorf("prepare statements: %w", err)
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
