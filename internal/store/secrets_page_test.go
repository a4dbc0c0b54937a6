package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// pageTotal is what the Secrets page says a project has.
func pageTotal(t *testing.T, s *store.Store, project string) int {
	t.Helper()
	p, err := s.PageSecrets(context.Background(), store.SecretsPageQuery{Project: project, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// The count a page shows follows every way secrets come and go: created,
// updated (no change), deleted, undeleted, destroyed, shredded with their
// project, and written by hand in SQL as drift is.
func TestSecretsPageCountFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, name := range []string{"A", "B", "C"} {
		put(t, s, "app", name, "v")
	}
	put(t, s, "other", "X", "v")
	put(t, s, "app", "A", "v2")
	check := func(when string, app, other int) {
		t.Helper()
		if got := pageTotal(t, s, "app"); got != app {
			t.Errorf("%s: app has %d secrets, want %d", when, got, app)
		}
		if got := pageTotal(t, s, "other"); got != other {
			t.Errorf("%s: other has %d secrets, want %d", when, got, other)
		}
	}
	check("after writes", 3, 1)
	if err := s.DeleteSecret(ctx, "app", "B", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	check("after a delete", 2, 1)
	if _, err := s.UndeleteSecret(ctx, "app", "B"); err != nil {
		t.Fatal(err)
	}
	check("after an undelete", 3, 1)
	if _, err := s.DestroySecret(ctx, "app", "C"); err != nil {
		t.Fatal(err)
	}
	check("after a destroy", 2, 1)
	if _, err := s.ShredProject(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	check("after a shred", 2, 0)
	exec(t, db, "delete from secrets where project = 'app' and name = 'A'")
	check("after a delete in SQL", 1, 0)
	exec(t, db, "update secrets set project = 'other' where project = 'app'")
	check("after a move in SQL", 0, 1)
	exec(t, db, "truncate secrets cascade")
	check("after a truncate", 0, 0)
	if got := pageTotal(t, s, "never"); got != 0 {
		t.Errorf("a project never written has %d secrets", got)
	}
}

// A page read from a place is numbered exactly whatever the guess of
// where it is, and links on to its neighbours.
func TestSecretsPageFromAPlaceIsNumberedWhateverTheGuess(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	for i := range 25 {
		category := ""
		if i < 10 {
			category = "first"
		}
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("S_%02d", i), Value: []byte("v"), Category: category, ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	// In order: S_00 to S_09 (category "first"), then S_10 to S_24.
	for _, match := range []string{"", "s_"} {
		for _, guess := range []int{0, 12, 1000} {
			p, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", Match: match, From: &store.SecretsPageKey{Name: "S_12"}, Offset: guess, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 25 || p.Offset != 12 || len(p.Secrets) != 5 || p.Secrets[0].Name != "S_12" || p.Secrets[4].Name != "S_16" ||
				p.Next == nil || *p.Next != (store.SecretsPageKey{Name: "S_17"}) || p.Previous == nil || *p.Previous != (store.SecretsPageKey{Category: "first", Name: "S_07"}) {
				t.Errorf("match %q, guess %d: total %d, offset %d, next %v, previous %v, %d secrets", match, guess, p.Total, p.Offset, p.Next, p.Previous, len(p.Secrets))
			}
		}
	}
	// Across the categories, from a place whose secret is gone, and to
	// the end.
	p, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Category: "first", Name: "S_085"}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 9 || p.Secrets[0].Name != "S_09" || p.Secrets[1].Name != "S_10" || *p.Previous != (store.SecretsPageKey{Category: "first", Name: "S_04"}) {
		t.Errorf("from between two secrets: offset %d, first %s, previous %v", p.Offset, p.Secrets[0].Name, p.Previous)
	}
	p, err = s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Name: "S_22"}, Offset: 20, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 22 || len(p.Secrets) != 3 || p.Next != nil {
		t.Errorf("the last page: offset %d, %d secrets, next %v", p.Offset, len(p.Secrets), p.Next)
	}
	// Past the end, the first page.
	p, err = s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Name: "ZZ"}, Offset: 30, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 0 || p.Total != 25 || len(p.Secrets) != 5 || p.Secrets[0].Name != "S_00" || p.Previous != nil || *p.Next != (store.SecretsPageKey{Category: "first", Name: "S_05"}) {
		t.Errorf("past the end: offset %d, total %d, first %v, previous %v, next %v", p.Offset, p.Total, p.Secrets, p.Previous, p.Next)
	}
}
