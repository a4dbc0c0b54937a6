//go:build cgo

// Package softhsmtest gives tests a SoftHSM 2 of their own: tokens made
// for the test run in a temporary directory (SOFTHSM2_CONF points there),
// with the AES key objects the PKCS#11 root key tests name. Set it up in
// TestMain, before anything in the process loads the module: SoftHSM reads
// its tokens when the module is initialised.
package softhsmtest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/pkcs11"
)

const (
	// Token holds the objects "root-a" and "root-b" (AES-256, never
	// extractable), "exportable" (AES-256, extractable: see Exportable),
	// "aes128" (AES-128) and "nowrap" (AES-256 that may not wrap).
	Token = "pgsecrets-test"
	// PINToken holds "root-a" too, for tests of the login itself: nothing
	// else logs in to it.
	PINToken = "pgsecrets-pin"
	// PIN is both tokens' user PIN.
	PIN   = "4721"
	sopin = "9302"
)

// state is what Setup made, or why it could not.
var state struct {
	module     string
	tokens     string // the token directory
	exportable []byte
	err        error
}

// Setup makes the tokens and returns what removes them. A failure is kept
// for Module to report in each test that needs SoftHSM.
func Setup() (cleanup func()) {
	if dir := os.Getenv(freezeEnv); dir != "" {
		holdLocks(dir) // the helper process of Freeze: never returns
	}
	dir, err := os.MkdirTemp("", "pgsecrets-softhsm-")
	if err != nil {
		state.err = err
		return func() {}
	}
	state.err = setUp(dir)
	return func() { os.RemoveAll(dir) }
}

// Module fails the test, never skips it, when SoftHSM 2 is missing, sets
// PGSECRETS_PKCS11_PIN for it, and returns the module's path.
func Module(t testing.TB) string {
	t.Helper()
	if state.err != nil {
		t.Fatalf("SoftHSM 2: %v; install it (Debian/Ubuntu: apt-get install softhsm2; .ci/run does), or set PGSECRETS_TEST_SOFTHSM_MODULE to its libsofthsm2.so", state.err)
	}
	t.Setenv("PGSECRETS_PKCS11_PIN", PIN)
	return state.module
}

// URI names an object on a test token through the SoftHSM module.
func URI(token, object string) string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s", token, object, state.module)
}

// Entry is a root keys entry for an object on a test token.
func Entry(kid, token, object string) string {
	return fmt.Sprintf(`{"kid": %q, "pkcs11": {"uri": %q}}`, kid, URI(token, object))
}

// Exportable is the material of the object "exportable", the one key made
// extractable, to prove that what the token wraps is a standard JWE.
func Exportable() []byte { return state.exportable }

// Unplug takes the tokens' storage away, as an HSM unplugged or a network
// HSM cut off would: from then on the module fails every call that reaches
// a token. It puts them back when the test ends, or when the returned
// function is called.
func Unplug(t testing.TB) (plugBack func()) {
	t.Helper()
	away := state.tokens + ".unplugged"
	if err := os.Rename(state.tokens, away); err != nil {
		t.Fatalf("softhsmtest: unplug: %v", err)
	}
	plugged := false
	plugBack = func() {
		if !plugged {
			plugged = true
			if err := os.Rename(away, state.tokens); err != nil {
				t.Errorf("softhsmtest: plug back: %v", err)
			}
		}
	}
	t.Cleanup(plugBack)
	return plugBack
}

func findSoftHSMModule() (string, error) {
	if m := os.Getenv("PGSECRETS_TEST_SOFTHSM_MODULE"); m != "" {
		return m, nil
	}
	candidates := []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so", "/usr/lib64/softhsm/libsofthsm2.so", "/opt/homebrew/lib/softhsm/libsofthsm2.so"}
	more, _ := filepath.Glob("/usr/lib/*/softhsm/libsofthsm2.so")
	for _, c := range append(candidates, more...) {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", errors.New("no libsofthsm2.so in the usual places")
}

func setUp(dir string) error {
	module, err := findSoftHSMModule()
	if err != nil {
		return err
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return err
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return err
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	for _, label := range []string{Token, PINToken} {
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", sopin).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
		}
	}
	state.module, state.tokens = module, tokens
	return makeKeyObjects(module)
}

// keyObject is an AES key the setup makes on a token.
type keyObject struct {
	token, label string
	size         int
	wrap         bool
	exportable   bool
}

// makeKeyObjects generates the AES keys the tests name (softhsm2-util
// makes no secret keys), the way an operator would on a real HSM:
// C_GenerateKey on the token, never extractable but for "exportable".
func makeKeyObjects(module string) error {
	ctx := pkcs11.New(module)
	if ctx == nil {
		return fmt.Errorf("cannot load %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		return err
	}
	defer ctx.Finalize()
	objects := []keyObject{
		{Token, "root-a", 32, true, false},
		{Token, "root-b", 32, true, false},
		{Token, "exportable", 32, true, true},
		{Token, "aes128", 16, true, false},
		{Token, "nowrap", 32, false, false},
		{PINToken, "root-a", 32, true, false},
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return err
	}
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil {
			return err
		}
		label := strings.TrimRight(info.Label, " ")
		if label != Token && label != PINToken {
			continue // SoftHSM's free slot
		}
		sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return err
		}
		if err := ctx.Login(sh, pkcs11.CKU_USER, PIN); err != nil {
			return fmt.Errorf("log in to %s: %w", label, err)
		}
		for _, o := range objects {
			if o.token != label {
				continue
			}
			h, err := ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, o.size),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, o.label),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_WRAP, o.wrap),
				pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, o.wrap),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, !o.exportable),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, o.exportable),
			})
			if err != nil {
				return fmt.Errorf("generate %s on %s: %w", o.label, o.token, err)
			}
			if o.exportable {
				attrs, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
				if err != nil {
					return fmt.Errorf("read %s: %w", o.label, err)
				}
				state.exportable = attrs[0].Value
			}
		}
		ctx.Logout(sh)
		ctx.CloseSession(sh)
	}
	return nil
}

// freezeEnv makes a test binary the helper process of Freeze.
const freezeEnv = "PGSECRETS_SOFTHSMTEST_FREEZE"

// Freeze makes the tokens stop answering, as an HSM that hangs (overloaded,
// or a network HSM behind a link that drops packets): another process
// holds write locks on every file of the token store, so a call of the
// module that reads a token waits on them. The locks go when the test
// ends, or when the returned function is called. (Locks must come from
// another process: a process never waits on its own.)
func Freeze(t testing.TB) (thaw func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), freezeEnv+"="+state.tokens)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("softhsmtest: freeze: %v", err)
	}
	ready := make([]byte, len("frozen\n"))
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "frozen\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("softhsmtest: freeze: the helper process did not lock the tokens (%v)", err)
	}
	thawed := false
	thaw = func() {
		if !thawed {
			thawed = true
			stdin.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(thaw)
	return thaw
}

// holdLocks write-locks every file under dir, says so on stdout, and holds
// the locks until stdin closes (the test is done with them, or gone).
func holdLocks(dir string) {
	var held []*os.File
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		held = append(held, f)
		lock := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
		return syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lock)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "softhsmtest: lock the tokens: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("frozen")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
