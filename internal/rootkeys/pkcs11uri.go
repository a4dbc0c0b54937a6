//go:build cgo

package rootkeys

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The settings of a PKCS#11 root key: its RFC 7512 URI, the module and
// the PIN.

// Environment variables of a PKCS#11 root key. The PIN never comes from a
// flag or the root keys JSON, which travel in places a PIN must not.
const (
	EnvPKCS11Module  = "PGSECRETS_PKCS11_MODULE"
	EnvPKCS11PIN     = "PGSECRETS_PKCS11_PIN"
	EnvPKCS11PINFile = "PGSECRETS_PKCS11_PIN_FILE"
)

// pkcs11URI is what pgsecrets reads of an RFC 7512 URI naming an AES key
// object on a token.
type pkcs11URI struct {
	raw string // as given, for messages (it never holds a PIN)
	// The token: by label, serial number or slot id (any that are given
	// must all match).
	token, serial string
	slotID        *uint
	// The object: by label, id, or both.
	object string
	id     []byte
	// From the query.
	modulePath, pinSource string
}

// parsePKCS11URI reads uri. It refuses a PIN in the URI (pin-value): the
// URI sits in the root keys, which are not a place for one.
func parsePKCS11URI(uri string) (*pkcs11URI, error) {
	rest, ok := strings.CutPrefix(uri, "pkcs11:")
	if !ok {
		return nil, fmt.Errorf("%q is not a PKCS#11 URI (RFC 7512): it starts with \"pkcs11:\", as in pkcs11:token=pgsecrets;object=root-2026", uri)
	}
	path, query, _ := strings.Cut(rest, "?")
	if strings.Contains(query, "pin-value=") {
		return nil, errors.New("the PKCS#11 URI holds a PIN (pin-value): remove it and set " + EnvPKCS11PIN + " or " + EnvPKCS11PINFile + ", or pin-source=file:PATH in the URI")
	}
	u := &pkcs11URI{raw: uri}
	for _, attr := range splitNonEmpty(path, ";") {
		name, value, err := uriAttr(attr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", uri, err)
		}
		switch name {
		case "token":
			u.token = value
		case "serial":
			u.serial = value
		case "slot-id":
			n, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: slot-id %q is not a number", uri, value)
			}
			id := uint(n)
			u.slotID = &id
		case "object":
			u.object = value
		case "id":
			u.id = []byte(value)
		case "type":
			if value != "secret-key" {
				return nil, fmt.Errorf("%s: type=%s, but a root key is an AES key (type=secret-key)", uri, value)
			}
		case "manufacturer", "model", "library-manufacturer", "library-description", "library-version", "slot-manufacturer", "slot-description":
			// They narrow which token is meant; the label, serial or slot
			// id already say it.
		default:
			return nil, fmt.Errorf("%s: unknown attribute %q (pgsecrets reads token, serial, slot-id, object, id and type)", uri, name)
		}
	}
	for _, attr := range splitNonEmpty(query, "&") {
		name, value, err := uriAttr(attr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", uri, err)
		}
		switch name {
		case "module-path":
			u.modulePath = value
		case "pin-source":
			u.pinSource = value
		default:
			return nil, fmt.Errorf("%s: unknown query attribute %q (pgsecrets reads module-path and pin-source)", uri, name)
		}
	}
	if u.token == "" && u.serial == "" && u.slotID == nil {
		return nil, fmt.Errorf("%s names no token: add token=LABEL (or serial=, slot-id=)", uri)
	}
	if u.object == "" && u.id == nil {
		return nil, fmt.Errorf("%s names no key object: add object=LABEL (or id=)", uri)
	}
	return u, nil
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// uriAttr reads name=value with the value percent-decoded.
func uriAttr(attr string) (name, value string, err error) {
	name, raw, ok := strings.Cut(attr, "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not name=value", attr)
	}
	value, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", fmt.Errorf("attribute %s: %w", name, err)
	}
	return name, value, nil
}

// module is the path of the PKCS#11 module: the URI's module-path, else
// PGSECRETS_PKCS11_MODULE.
func (u *pkcs11URI) module() (string, error) {
	if u.modulePath != "" {
		return u.modulePath, nil
	}
	if m := os.Getenv(EnvPKCS11Module); m != "" {
		return m, nil
	}
	return "", fmt.Errorf("no PKCS#11 module: add module-path=/path/to/module.so to the URI or set %s", EnvPKCS11Module)
}

// pin is the token's user PIN, read when the token is first reached: PGSECRETS_PKCS11_PIN, else the file named by
// PGSECRETS_PKCS11_PIN_FILE, else the file of the URI's pin-source.
func (u *pkcs11URI) pin() (string, error) {
	if p := os.Getenv(EnvPKCS11PIN); p != "" {
		return p, nil
	}
	file, from := os.Getenv(EnvPKCS11PINFile), EnvPKCS11PINFile
	if file == "" && u.pinSource != "" {
		file, from = strings.TrimPrefix(u.pinSource, "file:"), "the URI's pin-source"
		// pin-source=file:///path is a URI too.
		file = strings.TrimPrefix(file, "//")
	}
	if file == "" {
		return "", fmt.Errorf("no PIN for the token: set %s, or %s (a file holding it), or add pin-source=file:PATH to the URI", EnvPKCS11PIN, EnvPKCS11PINFile)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read the PIN file from %s: %w", from, err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("the PIN file %s (from %s) is empty", file, from)
	}
	return p, nil
}
