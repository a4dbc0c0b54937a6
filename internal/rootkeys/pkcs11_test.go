//go:build cgo

package rootkeys_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// jwkEntry is a fresh JWK root, as `pgsecrets key generate` makes one.
func jwkEntry(t *testing.T, kid string) string {
	t.Helper()
	b, err := storetest.Key(t, kid, "A256GCMKW").ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ring reads root keys as every process does from its settings.
func ring(t *testing.T, entries ...string) *keyring.Keyring {
	t.Helper()
	r, err := rootkeys.Load([]byte("[" + strings.Join(entries, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func putValues(t *testing.T, st *store.Store, projects []string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, p := range projects {
		for i := range n {
			name, value := fmt.Sprintf("S%02d", i), fmt.Sprintf("value-%s-%d", p, i)
			if _, err := st.PutSecret(context.Background(), store.PutSecretInput{Project: p, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}); err != nil {
				t.Fatal(err)
			}
			want[p+"/"+name] = value
		}
	}
	return want
}

func sameValues(t *testing.T, who string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s reads %d secrets, want %d", who, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s reads %s wrong", who, k)
		}
	}
}

// A store whose first root key is on an HSM writes and reads, another
// process with the same settings reads what it wrote, and the dashboard's
// session key of that root opens from its seed.
func TestHSMRootWritesAndReads(t *testing.T) {
	softhsmtest.Module(t)
	ctx := context.Background()
	db := storetest.NewDB(t)
	writer := db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), "")
	want := putValues(t, writer, []string{"app", "billing"}, 3)
	if got := wrappingKIDs(t, db); got["hsm-1"] != 2 || len(got) != 1 {
		t.Fatalf("project keys wrapped by %v, want both by hsm-1", got)
	}
	reader := db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), "")
	sameValues(t, "another process", storetest.Values(t, reader), want)
	if err := reader.LoadSessionKeys(ctx); err != nil {
		t.Fatalf("dashboard session key of the HSM root: %v", err)
	}
	if _, err := reader.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("audit chain under the HSM root: %v", err)
	}
}

// The ordinary rotation moves a store from a JWK root to an HSM root
// (prepend, reencrypt, drop the JWK) and back.
func TestRotationFromJWKToHSMAndBack(t *testing.T) {
	softhsmtest.Module(t)
	ctx := context.Background()
	db := storetest.NewDB(t)
	jwk := jwkEntry(t, "file-1")
	want := putValues(t, db.Open(t, ring(t, jwk), ""), []string{"app", "billing", "web"}, 4)

	rotating := db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a"), jwk), "")
	if _, err := reencrypt.Run(ctx, rotating, reencrypt.Options{}); err != nil {
		t.Fatalf("reencrypt to the HSM root: %v", err)
	}
	if got := wrappingKIDs(t, db); got["hsm-1"] != 3 || len(got) != 1 {
		t.Fatalf("after the rotation project keys are wrapped by %v, want all three by hsm-1", got)
	}
	hsmOnly := db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), "")
	sameValues(t, "a process with the HSM root alone", storetest.Values(t, hsmOnly), want)
	if _, err := hsmOnly.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("audit chain with the HSM root alone: %v", err)
	}
	want["app/AFTER"] = "written under the HSM root"
	if _, err := hsmOnly.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "AFTER", Value: []byte(want["app/AFTER"]), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}

	back := jwkEntry(t, "file-2")
	rotating = db.Open(t, ring(t, back, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), "")
	if _, err := reencrypt.Run(ctx, rotating, reencrypt.Options{}); err != nil {
		t.Fatalf("reencrypt back to a JWK root: %v", err)
	}
	if got := wrappingKIDs(t, db); got["file-2"] != 3 || len(got) != 1 {
		t.Fatalf("after the rotation back project keys are wrapped by %v, want all three by file-2", got)
	}
	sameValues(t, "a process with the JWK root alone", storetest.Values(t, db.Open(t, ring(t, back), "")), want)
}

// A token's AES key wrap is JWE's A256KW: a JWK holding the same key
// material opens a project key the token wrapped. Only a key made
// extractable for the test can show it; a real root key is not.
func TestHSMWrapsProjectKeysInStandardJWE(t *testing.T) {
	softhsmtest.Module(t)
	ctx := context.Background()
	db := storetest.NewDB(t)
	putValues(t, db.Open(t, ring(t, softhsmtest.Entry("hsm-x", softhsmtest.Token, "exportable")), ""), []string{"app"}, 1)
	var kid, state, wrapped string
	var revision int64
	if err := db.Pool.QueryRow(ctx, "select kid, state, revision, wrapped_key from project_keys where project = 'app'").Scan(&kid, &state, &revision, &wrapped); err != nil {
		t.Fatal(err)
	}
	plain := ring(t, fmt.Sprintf(`{"kty":"oct","kid":"hsm-x","alg":"A256KW","enc":"A256GCM","k":%q}`, base64.RawURLEncoding.EncodeToString(softhsmtest.Exportable())))
	if _, err := plain.UnwrapProjectKey("app", kid, state, revision, wrapped); err != nil {
		t.Fatalf("the token's wrapping read as a plain A256KW JWE: %v", err)
	}
}

// Another object configured under a registered kid is refused when the
// store opens, naming the object, before anything is written.
func TestAnotherTokenObjectUnderTheSameKidIsRefused(t *testing.T) {
	softhsmtest.Module(t)
	ctx := context.Background()
	db := storetest.NewDB(t)
	putValues(t, db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), ""), []string{"app"}, 1)
	_, err := store.Open(ctx, db.Config, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-b")))
	var mismatch *store.RootKeyMismatchError
	if err == nil || !strings.Contains(err.Error(), "object=root-b") || !strings.Contains(err.Error(), `"hsm-1"`) {
		t.Fatalf("open with another object under hsm-1: %v, want it refused naming the object", err)
	}
	if !errors.As(err, &mismatch) {
		t.Fatalf("error %T, want *store.RootKeyMismatchError", err)
	}
}

// An HSM that goes away (unplugged, cut off, failing) is a service outage,
// not a wrong key: the error says so on one line naming the key, and is
// typed so that a reencrypt stops whole rather than count every secret
// after it as failed. Back in place, the token serves the same keys to a
// process that loads the module again (SoftHSM, like many vendors'
// modules, does not find a token again within a process).
func TestHSMUnpluggedIsAnOutageNamingTheKey(t *testing.T) {
	softhsmtest.Module(t)
	db := storetest.NewDB(t)
	entry := softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")
	want := putValues(t, db.Open(t, ring(t, entry), ""), []string{"app"}, 3)

	plugBack := softhsmtest.Unplug(t)
	rootkeys.DropPKCS11Sessions()
	_, err := store.Open(context.Background(), db.Config, ring(t, entry))
	var unavailable *keyring.KeyServiceUnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("open with the HSM unplugged: want a key service outage, got %v", err)
	}
	for _, want := range []string{"hsm-1", "PKCS#11 key pkcs11:token=" + softhsmtest.Token, "the token is unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error on several lines: %v", err)
	}
	t.Logf("%v", err)

	plugBack()
	rootkeys.ClosePKCS11()
	sameValues(t, "a process with the HSM back", storetest.Values(t, db.Open(t, ring(t, entry), "")), want)
}

// An HSM that hangs fails each new call within the bound, naming the key,
// typed as an outage; a process that already opened its keys goes on
// reading without it. Once it answers again, a new process opens as before.
func TestHSMThatHangsFailsWithinTheBoundWhileOpenedKeysKeepWorking(t *testing.T) {
	softhsmtest.Module(t)
	db := storetest.NewDB(t)
	entry := softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")
	want := putValues(t, db.Open(t, ring(t, entry), ""), []string{"app", "web"}, 3)
	reader := db.Open(t, ring(t, entry), "")
	sameValues(t, "a reader", storetest.Values(t, reader), want)

	const bound = time.Second
	rootkeys.SetPKCS11CallTimeout(t, bound)
	thaw := softhsmtest.Freeze(t)
	sameValues(t, "the reader, while the HSM hangs", storetest.Values(t, reader), want)
	start := time.Now()
	_, err := store.Open(context.Background(), db.Config, ring(t, entry))
	took := time.Since(start)
	var unavailable *keyring.KeyServiceUnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "no answer within 1s (is the HSM reachable?)") || !strings.Contains(err.Error(), "hsm-1") {
		t.Fatalf("open while the HSM hangs: want an outage naming the key, got %v", err)
	}
	if took > bound+2*time.Second {
		t.Errorf("failed after %s, over the %s bound", took, bound)
	}
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)

	thaw()
	sameValues(t, "a process once the HSM answers", storetest.Values(t, db.Open(t, ring(t, entry), "")), want)
}

// Each way a PKCS#11 root can be misconfigured fails the store's opening
// with one line naming the URI and the cause, and never shows the PIN.
func TestHSMRootErrorsNameTheKeyAndTheCause(t *testing.T) {
	module := softhsmtest.Module(t)
	ctx := context.Background()
	db := storetest.NewDB(t)
	for name, c := range map[string]struct {
		uri, pin, want string
	}{
		"wrong PIN":      {softhsmtest.URI(softhsmtest.PINToken, "root-a"), "0000", "wrong PIN"},
		"missing module": {"pkcs11:token=" + softhsmtest.Token + ";object=root-a?module-path=/nonexistent/libhsm.so", softhsmtest.PIN, "/nonexistent/libhsm.so: no such file or directory"},
		"not a module":   {"pkcs11:token=" + softhsmtest.Token + ";object=root-a?module-path=/etc/hostname", softhsmtest.PIN, "not a PKCS#11 module"},
		"missing token":  {softhsmtest.URI("no-such-token", "root-a"), softhsmtest.PIN, `no such token in module ` + module + ` (tokens present: `},
		"missing object": {softhsmtest.URI(softhsmtest.Token, "no-such-object"), softhsmtest.PIN, "no such key object on the token"},
		"AES-128 key":    {softhsmtest.URI(softhsmtest.Token, "aes128"), softhsmtest.PIN, "is AES-128, not AES-256"},
		"no wrap":        {softhsmtest.URI(softhsmtest.Token, "nowrap"), softhsmtest.PIN, "may not wrap and unwrap"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PGSECRETS_PKCS11_PIN", c.pin)
			r := ring(t, fmt.Sprintf(`{"kid": "hsm-1", "pkcs11": {"uri": %q}}`, c.uri))
			st, err := store.Open(ctx, db.Config, r)
			if err == nil {
				st.Close()
				t.Fatal("the store opened")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.uri) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line naming %s and %q", msg, c.uri, c.want)
			}
			if strings.Contains(msg, c.pin) {
				t.Fatalf("error shows the PIN: %q", msg)
			}
		})
	}
}

// The PIN never comes from the root keys: a URI holding one is refused
// without repeating it, and a root with no PIN configured says where to
// put one.
func TestHSMRootPINComesFromTheEnvironmentOrAFile(t *testing.T) {
	softhsmtest.Module(t)
	_, err := rootkeys.Parse([]byte(`[{"kid":"hsm-1","pkcs11":{"uri":"pkcs11:token=t;object=o?pin-value=83917&module-path=/m.so"}}]`))
	if err == nil || strings.Contains(err.Error(), "83917") || !strings.Contains(err.Error(), "PGSECRETS_PKCS11_PIN") {
		t.Fatalf("a PIN in the URI: %v", err)
	}
	t.Setenv("PGSECRETS_PKCS11_PIN", "")
	_, err = ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")).RootCheckValue("hsm-1", "dep")
	if err == nil || !strings.Contains(err.Error(), "no PIN") || !strings.Contains(err.Error(), "PGSECRETS_PKCS11_PIN_FILE") || !strings.Contains(err.Error(), "object=root-a") {
		t.Fatalf("no PIN configured: %v", err)
	}
	file := t.TempDir() + "/pin"
	if err := os.WriteFile(file, []byte(softhsmtest.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGSECRETS_PKCS11_PIN_FILE", file)
	// The token no other test logs in to, so that the login is this PIN's;
	// closing the module afterwards ends the login, and the token's wrong
	// PIN test still meets a token nobody is logged in to.
	t.Cleanup(rootkeys.ClosePKCS11)
	r := ring(t, softhsmtest.Entry("hsm-1", softhsmtest.PINToken, "root-a"))
	if _, err := r.RootCheckValue("hsm-1", "dep"); err != nil {
		t.Fatalf("with the PIN from %s: %v", file, err)
	}
}

// A token that dropped the process's sessions and login (an HSM that
// restarted) is logged in to again on the next call.
func TestHSMRootSurvivesDroppedSessions(t *testing.T) {
	softhsmtest.Module(t)
	db := storetest.NewDB(t)
	want := putValues(t, db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), ""), []string{"app"}, 2)
	rootkeys.DropPKCS11Sessions()
	sameValues(t, "a process after the token dropped its sessions", storetest.Values(t, db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), "")), want)
}

// A process makes one unwrap call per key it needs, then none: reading
// every project again costs the token nothing.
func TestHSMRootUnwrapsEachKeyOnce(t *testing.T) {
	softhsmtest.Module(t)
	db := storetest.NewDB(t)
	projects := []string{"p1", "p2", "p3", "p4", "p5"}
	want := putValues(t, db.Open(t, ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a")), ""), projects, 20)
	r := ring(t, softhsmtest.Entry("hsm-1", softhsmtest.Token, "root-a"))
	reader := db.Open(t, r, "")
	sameValues(t, "a reader", storetest.Values(t, reader), want)
	first := rootkeys.PKCS11Unwraps(r, "hsm-1")
	// One per project key, and the audit chain's key its reads append with.
	if first < int64(len(projects)) || first > int64(len(projects))+1 {
		t.Fatalf("reading %d projects made %d unwrap calls, want one per project key (and one for the audit key)", len(projects), first)
	}
	for range 3 {
		sameValues(t, "a reader again", storetest.Values(t, reader), want)
	}
	if n := rootkeys.PKCS11Unwraps(r, "hsm-1"); n != first {
		t.Fatalf("reading again made %d more unwrap calls, want none", n-first)
	}
}

// A URI that names no token, no object, another kind of object, or an
// attribute pgsecrets does not read is refused when the root keys are
// read, saying what to write.
func TestPKCS11URIMistakesAreRefusedWhenRead(t *testing.T) {
	for uri, want := range map[string]string{
		"token=t;object=o":                        "is not a PKCS#11 URI",
		"pkcs11:object=o":                         "names no token: add token=LABEL",
		"pkcs11:token=t":                          "names no key object: add object=LABEL",
		"pkcs11:token=t;object=o;type=private":    "type=private, but a root key is an AES key",
		"pkcs11:token=t;objekt=o":                 `unknown attribute "objekt"`,
		"pkcs11:token=t;object=o?module=/x.so":    `unknown query attribute "module"`,
		"pkcs11:token=t;object=o;slot-id=first":   `slot-id "first" is not a number`,
		"pkcs11:token=t;object=%zz":               "invalid URL escape",
		"pkcs11:token=My%20Token;object=o;id=%01": "",
	} {
		_, err := rootkeys.Parse([]byte(fmt.Sprintf(`[{"kid":"hsm-1","pkcs11":{"uri":%q}}]`, uri)))
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", uri, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "hsm-1") {
			t.Errorf("%s: %v, want %q", uri, err, want)
		}
	}
	if _, err := rootkeys.Parse([]byte(`[{"kid":"hsm-1","pkcs11":{"uri":"pkcs11:token=t;object=o","pin":"1234"}}]`)); err == nil || strings.Contains(err.Error(), "1234") {
		t.Errorf("a PIN in the entry: %v", err)
	}
}
