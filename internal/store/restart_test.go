package store_test

import (
	"context"
	"testing"
	"time"

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
	if _, err := db.pool.Exec(ctx, "update pgsecrets.secrets set updated_at = now() - interval '1 hour' where name = 'OLD_RESTART'"); err != nil {
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
