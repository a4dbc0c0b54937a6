package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestAuditEventsPageByKeyNewestFirst(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	for i := range 7 {
		put(t, s, "app", fmt.Sprintf("K%d", i), "v")
		put(t, s, "other", fmt.Sprintf("K%d", i), "v")
	}
	var seen []audit.Event
	before := int64(0)
	for {
		page, err := s.AuditEvents(ctx, store.AuditFilter{Project: "app"}, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].Seq
	}
	// The project's key was made with its first secret, in the same
	// transaction; its event comes first.
	if len(seen) != 8 || seen[7].Action != audit.ActionKeyCreate {
		t.Fatalf("paged %d events of app, want 7 and the key's", len(seen))
	}
	seen = seen[:7]
	for i, e := range seen {
		if e.Project != "app" || (i > 0 && e.Seq >= seen[i-1].Seq) || e.Subject != fmt.Sprintf("K%d", 6-i) {
			t.Fatalf("event %d: %+v, want app's events newest first", i, e)
		}
	}
	limited, err := s.AuditEvents(ctx, store.AuditFilter{Projects: []string{"other"}, Action: audit.ActionSecretCreate}, 0, 100)
	if err != nil || len(limited) != 7 || limited[0].Project != "other" {
		t.Fatalf("events limited to other: %d, %v", len(limited), err)
	}
}

func TestWithActorRecordsAnotherActorOnTheSamePool(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	d := s.WithActor("dashboard:a@example.com")
	d.Close() // a copy does not own the pool
	m, err := d.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v")})
	if err != nil {
		t.Fatal(err)
	}
	if m.UpdatedBy != "dashboard:a@example.com" || s.Actor() != "tester" {
		t.Fatalf("updated_by %q, original actor %q", m.UpdatedBy, s.Actor())
	}
	events := auditOf(t, s, audit.ActionSecretCreate)
	if len(events) != 1 || events[0].Actor != "dashboard:a@example.com" {
		t.Fatalf("events: %+v", events)
	}
	if _, err := s.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

func TestWritesRecordTheirChannel(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	cfg := db.Config
	cfg.Channel = store.ChannelTerraform
	tf, err := store.Open(ctx, cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	m, err := tf.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v")})
	if err != nil || m.UpdatedVia != store.ChannelTerraform {
		t.Fatalf("terraform write: %+v, %v", m, err)
	}
	cli := db.Open(t, ring, "someone")
	m, err = cli.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("w"), ExpectedRevision: store.AnyRevision})
	if err != nil || m.UpdatedVia != "" {
		t.Fatalf("write without a channel: %+v, %v", m, err)
	}
}
