package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Two operators setting different use cases at the same moment: both
// changes stay, because a patch never rewrites the use cases it does not name.
func TestConcurrentDefaultsPatchesBothTakeEffect(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	if _, err := s.PatchModelDefaults(ctx, "app", []store.ModelDefault{{UseCase: "summary", Provider: "openai", Model: "gpt-4o-mini"}}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range []store.ModelDefault{
		{UseCase: "chat", Provider: "anthropic", Model: "claude-sonnet-4"},
		{UseCase: "code", Provider: "openai", Model: "gpt-4.1"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.PatchModelDefaults(ctx, "app", []store.ModelDefault{d}, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	defs, err := s.PatchModelDefaults(ctx, "app", nil, []string{"summary"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range defs {
		got[d.UseCase] = d.Provider + "/" + d.Model
	}
	if len(got) != 2 || got["chat"] != "anthropic/claude-sonnet-4" || got["code"] != "openai/gpt-4.1" {
		t.Fatalf("defaults after two concurrent patches and a removal = %v", got)
	}
	if _, err := s.PatchModelDefaults(ctx, "app", nil, []string{"images"}); err == nil {
		t.Fatal("removing an unknown use case was accepted")
	}
}
