package audit

import (
	"fmt"
	"testing"
)

// A read's details are the same bytes whichever way they are encoded: what
// export, the dashboard and verify read of a secret.read event does not
// depend on how many names it lists.
func TestReadDetailsAreTheBytesDetailsWrites(t *testing.T) {
	many := make([]string, 3000)
	for i := range many {
		many[i] = fmt.Sprintf("SECRET_%05d", i)
	}
	odd := []string{"", "a<b>&c", `quote " back \ slash`, "tab\tnl\n\b\f\x01", "é✓🎉", "\u2028\u2029", "bad \xff utf8"}
	for _, c := range []struct {
		purpose         string
		names, notFound []string
		readFrom        string
	}{
		{"cli render", many, nil, ""},
		{"terraform data source pgsecrets_resolved_config", many[:2], []string{"NOT_THERE"}, ""},
		{"odd <purpose> & \"quotes\"", odd, odd, ""},
		{"", []string{}, nil, ""},
		{"none found", []string{}, []string{"A", "B"}, ""},
		{"cli run", many[:3], []string{"GONE"}, "read URL"},
	} {
		fields := map[string]any{"purpose": c.purpose, "names": c.names}
		if len(c.notFound) > 0 {
			fields["not_found"] = c.notFound
		}
		if c.readFrom != "" {
			fields["read_from"] = c.readFrom
		}
		want := Details(fields)
		if got := ReadDetails(c.purpose, c.names, c.notFound, c.readFrom); got != want {
			t.Errorf("ReadDetails(%q, %d names, %q)\n got %.300s\nwant %.300s", c.purpose, len(c.names), c.notFound, got, want)
		}
	}
}
