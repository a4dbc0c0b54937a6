//go:build cgo

package rootkeys_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// The PKCS#11 tests run against SoftHSM 2, with tokens made for this run
// in a temporary directory (SOFTHSM2_CONF points there), before anything
// in the process loads the module: SoftHSM reads its tokens when the
// module is initialised.

const (
	hsmToken    = "pgsecrets-test"
	hsmPINToken = "pgsecrets-pin" // logged in to only with the PIN from a file, then closed
	hsmPIN      = "4721"
	hsmSOPIN    = "9302"
)

// softHSM is what the run's setup made, or why it could not.
var softHSM struct {
	module string
	// exportable is the material of the key object "exportable", the one
	// key made extractable, to prove the JWE the token writes is standard.
	exportable []byte
	err        error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pgsecrets-softhsm-")
	if err != nil {
		softHSM.err = err
	} else {
		softHSM.err = setUpSoftHSM(dir)
	}
	code := pgtest.Run(m)
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// hsm fails the test, never skips it, when SoftHSM 2 is missing, and
// returns its module's path.
func hsm(t *testing.T) string {
	t.Helper()
	if softHSM.err != nil {
		t.Fatalf("SoftHSM 2: %v; install it (Debian/Ubuntu: apt-get install softhsm2; .ci/run does), or set PGSECRETS_TEST_SOFTHSM_MODULE to its libsofthsm2.so", softHSM.err)
	}
	t.Setenv("PGSECRETS_PKCS11_PIN", hsmPIN)
	return softHSM.module
}

// hsmURI names an object on the test token through the SoftHSM module.
func hsmURI(token, object string) string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s", token, object, softHSM.module)
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

func setUpSoftHSM(dir string) error {
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
	for _, label := range []string{hsmToken, hsmPINToken} {
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", hsmPIN, "--so-pin", hsmSOPIN).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
		}
	}
	softHSM.module = module
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
		{hsmToken, "root-a", 32, true, false},
		{hsmToken, "root-b", 32, true, false},
		{hsmToken, "exportable", 32, true, true},
		{hsmToken, "aes128", 16, true, false},
		{hsmToken, "nowrap", 32, false, false},
		{hsmPINToken, "root-a", 32, true, false},
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
		if label != hsmToken && label != hsmPINToken {
			continue // SoftHSM's free slot
		}
		sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return err
		}
		if err := ctx.Login(sh, pkcs11.CKU_USER, hsmPIN); err != nil {
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
				softHSM.exportable = attrs[0].Value
			}
		}
		ctx.Logout(sh)
		ctx.CloseSession(sh)
	}
	return nil
}
