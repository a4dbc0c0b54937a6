package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestChangedSinceListsOnlyRestartSecretsWrittenAfterTheTime(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	put := func(project, name string, restart bool, rev int64) store.SecretMeta {
		t.Helper()
		m, err := s.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: []byte("v"), RequiresRestart: &restart, ExpectedRevision: rev})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := put("app", "OLD_RESTART", true, store.MustNotExist)
	put("app", "NO_RESTART", false, store.MustNotExist)
	if !old.RequiresRestart {
		t.Fatal("PutSecret did not return requires_restart")
	}
	// Move the first write into the past rather than sleeping.
	if _, err := db.Pool.Exec(ctx, "update pgsecrets.secrets set updated_at = now() - interval '1 hour' where name = 'OLD_RESTART'"); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	put("app", "NEW_RESTART", true, store.MustNotExist)
	put("other", "NEW_RESTART", true, store.MustNotExist)

	got, err := s.ChangedSince(ctx, "app", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "NEW_RESTART" || got[0].Project != "app" || !got[0].RequiresRestart {
		t.Fatalf("ChangedSince(app) = %+v, want only app/NEW_RESTART", got)
	}
	all, err := s.ChangedSince(ctx, "", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Project != "app" || all[1].Project != "other" {
		t.Fatalf("ChangedSince(all) = %+v, want app and other NEW_RESTART", all)
	}

	// An update of the old secret makes it changed again; clearing the mark
	// on update is kept too.
	put("app", "OLD_RESTART", true, store.AnyRevision)
	m := put("app", "NEW_RESTART", false, 1)
	if m.RequiresRestart {
		t.Fatal("update did not clear requires_restart")
	}
	got, err = s.ChangedSince(ctx, "app", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "OLD_RESTART" {
		t.Fatalf("after updates ChangedSince(app) = %+v, want only OLD_RESTART", got)
	}
}

func TestRestartPendingUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	restart, noRestart := true, false
	write := func(project, name string, r *bool) {
		t.Helper()
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: []byte("v"), RequiresRestart: r, ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(project string) []store.PendingRestart {
		t.Helper()
		p, err := s.PendingRestarts(ctx, project)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("app", "SLACK_BOT_TOKEN", nil) // restart-bound by the catalog
	write("app", "PLAIN", &noRestart)
	write("other", "CONN", &restart)

	p := pending("")
	if len(p) != 2 || p[0].Project != "app" || p[0].LastAck != nil || len(p[0].Changes) != 1 || p[0].Changes[0].Name != "SLACK_BOT_TOKEN" || p[1].Project != "other" {
		t.Fatalf("pending before any ack: %+v", p)
	}

	ack, covered, err := s.WithActor("deploy-hook").AckRestart(ctx, "app")
	if err != nil || ack.AckedBy != "deploy-hook" || len(covered) != 1 {
		t.Fatalf("ack = %+v, %+v, %v", ack, covered, err)
	}
	if p := pending("app"); len(p) != 0 {
		t.Fatalf("pending after the ack: %+v", p)
	}
	if p := pending(""); len(p) != 1 || p[0].Project != "other" {
		t.Fatalf("the ack of app covered other: %+v", p)
	}

	// The ack happened an hour ago; a change and a delete since are pending.
	exec(t, db, "update restart_acks set acked_at = now() - interval '1 hour'")
	exec(t, db, "update secrets set updated_at = now() - interval '2 hours'")
	write("app", "SLACK_BOT_TOKEN", nil)
	write("app", "GONE", &restart)
	if err := s.DeleteSecret(ctx, "app", "GONE", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	p = pending("app")
	if len(p) != 1 || p[0].LastAck == nil || p[0].LastAck.AckedBy != "deploy-hook" || len(p[0].Changes) != 2 ||
		p[0].Changes[0].Name != "GONE" || !p[0].Changes[0].Deleted || p[0].Changes[1].Name != "SLACK_BOT_TOKEN" || p[0].Changes[1].ChangedBy != "tester" {
		t.Fatalf("pending after changes: %+v", p)
	}
	if _, _, err := s.AckRestart(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	events := auditOf(t, s, audit.ActionRestartAck)
	if len(events) != 2 || events[0].Project != "app" || events[0].Actor != "deploy-hook" || events[0].Details != `{"secrets":["SLACK_BOT_TOKEN"]}` ||
		events[1].Details != `{"secrets":["GONE","SLACK_BOT_TOKEN"]}` {
		t.Fatalf("restart.ack events: %+v", events)
	}
}
