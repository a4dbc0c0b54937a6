package catalog

import (
	"errors"
	"strings"
	"testing"
)

// shapeReasons are every reason a shape gives, "" for none: an error made
// of the name, the shape and one of these holds nothing of the value.
var shapeReasons = map[string]bool{
	"":               true,
	reasonEmpty:      true,
	reasonWhitespace: true,
	reasonInnerSpace: true,
	`it starts with "sk-ant-", which is an Anthropic key`:                 true,
	"no PEM block was found":                                              true,
	"its PEM block is labelled as something other than a private key":     true,
	"it has data after the PEM block":                                     true,
	"its scheme is not https":                                             true,
	"it carries a user name or password, which belongs in its own secret": true,
}

// FuzzValidate: for any value, Validate either accepts it (and then it has
// its shape's basic form) or returns a *ShapeError made only of the name,
// the expected shape and a fixed reason. Names outside the catalog are
// never checked.
func FuzzValidate(f *testing.F) {
	all := All()
	for i, e := range all {
		for _, v := range append(shapes[e.Name].good, shapes[e.Name].bad...) {
			f.Add(uint8(i), v)
		}
		if e.Name == "GITHUB_APP_PRIVATE_KEY" {
			f.Add(uint8(i), "-----BEGIN CANARY-----\nAAAA\n-----END CANARY-----\n")
		}
	}
	f.Add(uint8(len(all)), "anything")

	f.Fuzz(func(t *testing.T, which uint8, value string) {
		if int(which) >= len(all) {
			if err := Validate("NOT_IN_THE_CATALOG", value); err != nil {
				t.Fatalf("a name outside the catalog was checked: %v", err)
			}
			return
		}
		e := all[which]
		err := Validate(e.Name, value)
		if err == nil {
			checkAcceptedHasBasicForm(t, e, value)
			return
		}
		var se *ShapeError
		if !errors.As(err, &se) || se.Name != e.Name || se.Shape != e.Shape || !shapeReasons[se.Reason] {
			t.Fatalf("error %q (%T) is not the name, the shape and a fixed reason", err, err)
		}
		want := "the value of " + e.Name + " does not look like " + e.Shape
		if se.Reason != "" {
			want += " (" + se.Reason + ")"
		}
		if err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
	})
}

// checkAcceptedHasBasicForm: a single-line token never has whitespace; a
// private key has its PEM markers.
func checkAcceptedHasBasicForm(t *testing.T, e Entry, value string) {
	if e.Name == "GITHUB_APP_PRIVATE_KEY" {
		if !strings.Contains(value, "-----BEGIN ") || !strings.Contains(value, "PRIVATE KEY-----") {
			t.Fatalf("%s accepted a value without PEM private key markers", e.Name)
		}
		return
	}
	if value == "" || strings.TrimSpace(value) != value || strings.ContainsAny(value, " \t\r\n") {
		t.Fatalf("%s accepted a value that is empty or has whitespace: %q", e.Name, value)
	}
}
