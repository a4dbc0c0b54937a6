package keyring_test

import (
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

func TestOlderRevisionOfSameSecretRefused(t *testing.T) {
	ring := designKeyring(t)
	old := encrypt(t, ring, "revoked-token", keyring.SecretBinding("prod", "api-token", 3))

	d, err := ring.Decrypt(old, keyring.SecretBinding("prod", "api-token", 3))
	if err != nil || !d.Bound || !d.Versioned || string(d.Plaintext) != "revoked-token" {
		t.Fatalf("at its own revision: %+v, %v", d, err)
	}
	_, err = ring.Decrypt(old, keyring.SecretBinding("prod", "api-token", 5))
	stale := requireAs[*keyring.StaleBindingError](t, err)
	if stale.Got != "3" || stale.Want != "5" {
		t.Errorf("stale binding reports got %q want %q", stale.Got, stale.Want)
	}
	requireMentions(t, err, "revision 3", "revision 5", "copied back", "refused")
	if strings.Contains(err.Error(), "revoked-token") {
		t.Errorf("error shows the value: %v", err)
	}
}

func TestRowOnlyBindingStillOpensButIsNotVersioned(t *testing.T) {
	ring := designKeyring(t)
	// What the first release wrote: the row, without a revision.
	legacy := encrypt(t, ring, "v", keyring.SecretBinding("prod", "a", 1).Row())
	d, err := ring.Decrypt(legacy, keyring.SecretBinding("prod", "a", 7))
	if err != nil || !d.Bound || d.Versioned {
		t.Fatalf("legacy binding: %+v, %v; want bound, not versioned", d, err)
	}
	if !ring.NeedsReencrypt(d.KID, d.Versioned) {
		t.Error("a ciphertext without a versioned binding must need re-encryption")
	}
	_, err = ring.Decrypt(legacy, keyring.SecretBinding("prod", "b", 7))
	requireAs[*keyring.BindingMismatchError](t, err)
}

func TestDataKeyStateEditRefused(t *testing.T) {
	ring := designKeyring(t)
	dataKey := generate(t, "260101-DatS", "dir", "A256GCM")
	wrapped, _, err := ring.WrapDataKey(dataKey, "disabled", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.UnwrapDataKey(dataKey.KID, "disabled", 4, wrapped); err != nil {
		t.Fatalf("unwrap with the state it was wrapped with: %v", err)
	}
	// A database writer re-enables the disabled key by editing its row.
	_, _, err = ring.UnwrapDataKey(dataKey.KID, "active", 4, wrapped)
	requireAs[*keyring.StaleBindingError](t, err)
	requireMentions(t, err, "4/active", "4/disabled", "edited in the database")
	_, _, err = ring.UnwrapDataKey(dataKey.KID, "disabled", 5, wrapped)
	requireAs[*keyring.StaleBindingError](t, err)
}

func TestAuditKeyWrapBindsDeploymentAndLastEvent(t *testing.T) {
	ring := designKeyring(t)
	material := []byte("0123456789abcdef0123456789abcdef")
	binding := keyring.AuditKeyBinding("dep-1", "audit-1", 2, 0)
	wrapped, kid, err := ring.WrapAuditKey(material, binding)
	if err != nil || kid != dirKID {
		t.Fatalf("wrap: %q %v", kid, err)
	}
	got, err := ring.UnwrapAuditKey(wrapped, binding)
	if err != nil || string(got) != string(material) {
		t.Fatalf("unwrap: %v", err)
	}
	for name, b := range map[string]keyring.Binding{
		"another deployment": keyring.AuditKeyBinding("dep-2", "audit-1", 2, 0),
		"reopened after 40":  keyring.AuditKeyBinding("dep-1", "audit-1", 2, 40),
		"another MAC scheme": keyring.AuditKeyBinding("dep-1", "audit-1", 1, 0),
		"another audit key":  keyring.AuditKeyBinding("dep-1", "audit-2", 2, 0),
	} {
		if _, err := ring.UnwrapAuditKey(wrapped, b); err == nil {
			t.Errorf("%s: unwrapped", name)
		}
	}
}

func TestRootCheckValueTellsKeysApart(t *testing.T) {
	ring := designKeyring(t)
	a, err := ring.RootCheckValue(dirKID, "dep-1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := designKeyring(t).RootCheckValue(dirKID, "dep-1")
	otherDeployment, _ := ring.RootCheckValue(dirKID, "dep-2")
	impostor := keyringWith(t, generate(t, dirKID, "dir", "A256GCM"))
	forged, _ := impostor.RootCheckValue(dirKID, "dep-1")
	if a != again || a == otherDeployment || a == forged || len(a) != 32 {
		t.Errorf("check values: same key %q/%q, other deployment %q, same kid other key %q", a, again, otherDeployment, forged)
	}
	if strings.Contains(a, dirK) || strings.Contains(a, string(unb64(t, dirK))) {
		t.Error("check value holds key material")
	}
}
