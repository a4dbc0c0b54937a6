package secretref

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// depthError parses doc and returns its *DepthError, failing otherwise.
func depthError(t *testing.T, doc string) *DepthError {
	t.Helper()
	_, err := Parse([]byte(doc))
	var de *DepthError
	if !errors.As(err, &de) {
		t.Fatalf("Parse: %v (%T), want a *DepthError", err, err)
	}
	return de
}

func TestDepthLimitRefusesDeepNesting(t *testing.T) {
	cases := []struct {
		name, doc, message string
	}{
		{
			"arrays", strings.Repeat("[", 40000),
			"config nests objects and arrays deeper than the limit of 256 levels, at byte 256 under $" +
				strings.Repeat("[0]", 26) + "…; flatten the document",
		},
		{
			"objects", strings.Repeat(`{"a":`, 40000),
			"config nests objects and arrays deeper than the limit of 256 levels, at byte 1280 under $" +
				strings.Repeat(".a", 39) + "…; flatten the document",
		},
		{
			// Closed, valid JSON: the limit is on nesting, not on syntax.
			"valid but deep", strings.Repeat(`{"odd key":[`, 200) + strings.Repeat("]}", 200),
			"config nests objects and arrays deeper than the limit of 256 levels, at byte 1536 under $" +
				strings.Repeat(`["odd key"][0]`, 5) + "…; flatten the document",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			de := depthError(t, c.doc)
			if de.Error() != c.message {
				t.Errorf("message\n got %s\nwant %s", de, c.message)
			}
		})
	}
}

func TestDepthLimitAllowsExactlyMaxDepthLevels(t *testing.T) {
	if _, err := Parse([]byte(strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth))); err != nil {
		t.Errorf("%d nested arrays: %v", MaxDepth, err)
	}
	de := depthError(t, strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1))
	if de.Offset != MaxDepth {
		t.Errorf("offset %d, want %d (the first bracket beyond the limit)", de.Offset, MaxDepth)
	}
}

// The parse stops at the limit: the cost of a hostile document of nested
// brackets is that of MaxDepth levels, whatever its length. Before the
// limit, 40,000 levels took 2.4 GB.
func TestDepthLimitKeepsDeepDocumentsCheap(t *testing.T) {
	for _, open := range []string{"[", `{"a":`, `{"` + strings.Repeat("k", 1000) + `":`} {
		doc := []byte(strings.Repeat(open, 40000))
		allocs := testing.AllocsPerRun(5, func() { _, _ = Parse(doc) })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Parse(doc)
		runtime.ReadMemStats(&after)
		var de *DepthError
		if !errors.As(err, &de) {
			t.Fatalf("%.10s x 40000: %v, want a *DepthError", open, err)
		}
		// The decoder allocates a few times per object key; the bounds
		// leave room for that at MaxDepth levels, and none for a parse of
		// every level nor for a copy of the document (40 MB for the long
		// keys).
		if allocs > 10*MaxDepth {
			t.Errorf("%.10s x 40000: %.0f allocations, want at most %d", open, allocs, 10*MaxDepth)
		}
		if bytes := after.TotalAlloc - before.TotalAlloc; bytes > 1<<20 {
			t.Errorf("%.10s x 40000: %d bytes allocated for a %d-byte document, want at most 1 MiB", open, bytes, len(doc))
		}
	}
}

func TestDepthErrorPathIsTruncatedForLongKeys(t *testing.T) {
	long := strings.Repeat("k", 1<<16)
	de := depthError(t, strings.Repeat(`{"`+long+`":`, MaxDepth+1))
	if de.Path != "$…" {
		t.Errorf("path %.100q, want $… (the first key alone is over the budget)", de.Path)
	}
}

func TestDuplicateKeyFoundInALargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(`"k3":"again"}`)
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), `key "k3" appears twice in one object`) {
		t.Fatalf("Parse: %v, want the duplicate k3 reported", err)
	}
}
