package catalog

import (
	"encoding/pem"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// shape is what a well-known value looks like. fits returns a reason only
// when it adds to describe, and never quotes the value.
type shape struct {
	describe string
	fits     func(value string) (reason string, ok bool)
}

// Reasons shared by several shapes. None quotes the value.
const (
	reasonEmpty      = "it is empty"
	reasonWhitespace = "it has leading or trailing whitespace, often a copy-and-paste slip"
	reasonInnerSpace = "it contains whitespace"
)

// trimmed checks what every single-line token needs: something, without
// surrounding or inner whitespace.
func trimmed(v string) (string, bool) {
	switch {
	case v == "":
		return reasonEmpty, false
	case strings.TrimSpace(v) != v:
		return reasonWhitespace, false
	case strings.ContainsAny(v, " \t\r\n"):
		return reasonInnerSpace, false
	}
	return "", true
}

func prefix(p string) shape {
	return shape{
		describe: "a token starting with " + strconv.Quote(p),
		fits: func(v string) (string, bool) {
			if r, ok := trimmed(v); !ok {
				return r, false
			}
			if len(v) <= len(p) || !strings.HasPrefix(v, p) {
				return "", false
			}
			return "", true
		},
	}
}

// prefixNot is a prefix that another, longer, well-known prefix shares: a
// value with the longer one is the other provider's key in the wrong place.
func prefixNot(p, other, otherIs string) shape {
	base := prefix(p)
	return shape{
		describe: base.describe + " (and not " + strconv.Quote(other) + ")",
		fits: func(v string) (string, bool) {
			if r, ok := base.fits(v); !ok {
				return r, false
			}
			if strings.HasPrefix(v, other) {
				return "it starts with " + strconv.Quote(other) + ", which is " + otherIs, false
			}
			return "", true
		},
	}
}

func pattern(describe, expr string) shape {
	re := regexp.MustCompile(expr)
	return shape{
		describe: describe,
		fits: func(v string) (string, bool) {
			if r, ok := trimmed(v); !ok {
				return r, false
			}
			return "", re.MatchString(v)
		},
	}
}

func numericID() shape {
	return shape{
		describe: "a numeric id (digits only)",
		fits: func(v string) (string, bool) {
			if r, ok := trimmed(v); !ok {
				return r, false
			}
			n, err := strconv.ParseUint(v, 10, 64)
			return "", err == nil && n > 0 && v[0] != '+'
		},
	}
}

func pemPrivateKey() shape {
	return shape{
		describe: "a PEM private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)",
		fits: func(v string) (string, bool) {
			if v == "" {
				return reasonEmpty, false
			}
			block, rest := pem.Decode([]byte(strings.TrimSpace(v)))
			switch {
			case block == nil:
				return "no PEM block was found", false
			case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
				// The label is the value's own text: a few words of a key or
				// certificate pasted in the wrong place, so it is not shown.
				// What is expected instead is in describe, which the error
				// shows before this reason.
				return "its PEM block is labelled as something other than a private key", false
			case strings.TrimSpace(string(rest)) != "":
				return "it has data after the PEM block", false
			}
			return "", true
		},
	}
}

func email() shape {
	return shape{
		describe: "an email address (name@example.com)",
		fits: func(v string) (string, bool) {
			if r, ok := trimmed(v); !ok {
				return r, false
			}
			// ParseAddress also accepts "Name <a@b>"; only the bare form is
			// what an API wants.
			a, err := mail.ParseAddress(v)
			return "", err == nil && a.Address == v && strings.Contains(v[strings.LastIndexByte(v, '@'):], ".")
		},
	}
}

func httpsURL() shape {
	return shape{
		describe: "an https URL (https://example.atlassian.net)",
		fits: func(v string) (string, bool) {
			if r, ok := trimmed(v); !ok {
				return r, false
			}
			u, err := url.Parse(v)
			switch {
			case err != nil || u.Host == "":
				return "", false
			case u.Scheme != "https":
				return "its scheme is not https", false
			case u.User != nil:
				return "it carries a user name or password, which belongs in its own secret", false
			}
			return "", true
		},
	}
}
