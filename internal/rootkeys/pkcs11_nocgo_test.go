//go:build !cgo

package rootkeys_test

import (
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
)

// A build without cgo knows a PKCS#11 entry and says why it cannot use it.
func TestPKCS11RootNeedsACgoBuild(t *testing.T) {
	_, err := rootkeys.Parse([]byte(`[{"kid":"hsm-1","pkcs11":{"uri":"pkcs11:token=t;object=o"}}]`))
	if err == nil || !strings.Contains(err.Error(), "this build has no PKCS#11 (built without cgo)") || !strings.Contains(err.Error(), "hsm-1") {
		t.Fatalf("a PKCS#11 root in a build without cgo: %v", err)
	}
}
