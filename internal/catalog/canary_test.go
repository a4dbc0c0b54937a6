package catalog

import (
	"strings"
	"testing"
)

// A PEM block's label is part of the value; a wrong label is explained by
// what is expected, without repeating it.
func TestWrongPEMLabelIsNotEchoed(t *testing.T) {
	const canary = "CANARYpemLabel9c1"
	value := "-----BEGIN " + canary + "-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END " + canary + "-----\n"
	err := Validate("GITHUB_APP_PRIVATE_KEY", value)
	if err == nil {
		t.Fatal("a PEM block that is not a private key was accepted")
	}
	want := "the value of GITHUB_APP_PRIVATE_KEY does not look like a PEM private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----) " +
		"(its PEM block is labelled as something other than a private key)"
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "MIIB") {
		t.Errorf("error echoes the value: %s", err)
	}
}
