package pgtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// NewCluster starts a throwaway server for the test alone, stopped and
// removed when the test ends. Unlike ServerURL, it ignores
// PGSECRETS_TEST_DATABASE_URL: a test that takes the server down
// (Restart) must not take down the one other tests share.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatalf("pgtest: start a private PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: stop private PostgreSQL: %v", err)
		}
	})
	return c
}

// Restart stops the server with a fast shutdown, so that clients see their
// connections dropped as in a failover, keeps it down for down, and starts
// it again on the same port and data directory: URL works again, with the
// data committed before.
func (c *Cluster) Restart(t testing.TB, down time.Duration) {
	t.Helper()
	if err := c.RestartServer(down); err != nil {
		t.Fatalf("pgtest: restart PostgreSQL at %s: %v", c.URL(), err)
	}
}

// RestartServer is Restart for a program that is not a test, such as a
// soak run in tools/.
func (c *Cluster) RestartServer(down time.Duration) error {
	if c.proc == nil {
		return errors.New("the server is not running")
	}
	if err := c.stopServer(); err != nil {
		return err
	}
	time.Sleep(down) // the outage the test asked for, not a wait for readiness
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	err := c.startServer(ctx, c.port)
	if errors.Is(err, errPortTaken) {
		return fmt.Errorf("another process took port %d while the server was down", c.port)
	}
	return err
}
