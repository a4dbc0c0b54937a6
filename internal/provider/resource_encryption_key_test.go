package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// keyConfig renders encryption keys; each entry is a resource name and
// the body of its block.
func keyConfig(env *testEnv, blocks ...string) string {
	var b strings.Builder
	b.WriteString(env.ProviderConfig())
	for _, block := range blocks {
		b.WriteString(block)
	}
	return b.String()
}

func keyBlock(name, state string, extra ...string) string {
	return fmt.Sprintf("\nresource \"pgsecrets_encryption_key\" %q {\n  state = %q\n  %s\n}\n", name, state, strings.Join(extra, "\n  "))
}

// keyInDatabase checks a key's state in the database.
func keyInDatabase(env *testEnv, addr, wantState string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in state", addr)
		}
		dk, err := env.Store.GetDataKey(context.Background(), rs.Primary.Attributes["kid"])
		if err != nil {
			return err
		}
		if dk.State != wantState {
			return fmt.Errorf("key %s is %s in the database, want %s", dk.KID, dk.State, wantState)
		}
		return nil
	}
}

func noDataKeys(env *testEnv) resource.TestCheckFunc {
	return func(*terraform.State) error {
		keys, err := env.Store.ListDataKeys(context.Background())
		if err != nil {
			return err
		}
		if len(keys) != 0 {
			return fmt.Errorf("%d data key(s) left after destroy", len(keys))
		}
		return nil
	}
}

func TestAccEncryptionKeyCreateUpdateImportDestroy(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	const addr = "pgsecrets_encryption_key.k"
	accTest(t, resource.TestCase{
		CheckDestroy: noDataKeys(env),
		Steps: []resource.TestStep{
			{
				// kid generated, alg and enc defaulted.
				Config: keyConfig(env, keyBlock("k", "active")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kid"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{6}-[A-Za-z0-9]{4}$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("alg"), knownvalue.StringExact("dir")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enc"), knownvalue.StringExact("A256GCM")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("state"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("wrapping_kid"), knownvalue.StringExact(env.rootKID())),
					statecheck.CompareValuePairs(addr, tfjsonpath.New("id"), addr, tfjsonpath.New("kid"), compare.ValuesSame()),
				},
				Check: keyInDatabase(env, addr, "active"),
			},
			{
				// Changing state updates in place; the generated kid stays.
				Config: keyConfig(env, keyBlock("k", "disabled")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("kid"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{6}-`))),
					},
				},
				Check: keyInDatabase(env, addr, "disabled"),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// A chosen kid and algorithms; changing them replaces the key.
				Config: keyConfig(env, keyBlock("k", "active", `kid = "ops-2026"`, `alg = "A256KW"`, `enc = "A128CBC-HS256"`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kid"), knownvalue.StringExact("ops-2026")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("alg"), knownvalue.StringExact("A256KW")),
				},
			},
			{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "ops-2026",
			},
		},
	})
}

func TestAccEncryptionKeyAlgorithmsValidatedAtPlan(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      keyConfig(env, keyBlock("k", "active", `alg = "RSA-OAEP"`)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)alg.*value must be one of.*"dir"`),
			},
			{
				Config:      keyConfig(env, keyBlock("k", "active", `enc = "A256CTR"`)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)enc.*value must be one of.*"A256GCM"`),
			},
			{
				Config:      keyConfig(env, keyBlock("k", "current")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)state.*value must be one of.*"primary"`),
			},
		},
	})
}

// Rotation: a primary key encrypts the secrets written after it; a new
// primary demotes the old one, which refresh then shows as active.
func TestAccEncryptionKeyRotationNewPrimaryEncryptsLaterSecrets(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	secret := `
resource "pgsecrets_project_secret" "s" {
  project    = "billing"
  name       = "STRIPE_KEY"
  value      = "sk"
  depends_on = [pgsecrets_encryption_key.old]
}
`
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: keyConfig(env, keyBlock("old", "primary"))},
			{
				Config: keyConfig(env, keyBlock("old", "primary"), secret),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("pgsecrets_project_secret.s", tfjsonpath.New("kid"),
						"pgsecrets_encryption_key.old", tfjsonpath.New("kid"), compare.ValuesSame()),
				},
			},
			{
				// The configuration still says old is primary, but making
				// new primary demoted it: the refreshed plan wants it back.
				Config:             keyConfig(env, keyBlock("old", "primary"), keyBlock("new", "primary", "depends_on = [pgsecrets_encryption_key.old]"), secret),
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgsecrets_encryption_key.old", plancheck.ResourceActionUpdate),
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					keyInDatabase(env, "pgsecrets_encryption_key.old", "active"),
					keyInDatabase(env, "pgsecrets_encryption_key.new", "primary"),
				),
			},
			{
				RefreshState: true,
				Check:        resource.TestCheckResourceAttr("pgsecrets_encryption_key.old", "state", "active"),
				// The configuration still asks for old as primary.
				ExpectNonEmptyPlan: true,
			},
			{
				// The rotated configuration; a rewritten secret uses new.
				// depends_on orders destroy: secrets before their keys.
				Config: keyConfig(env, keyBlock("old", "active"), keyBlock("new", "primary", "depends_on = [pgsecrets_encryption_key.old]"),
					strings.NewReplacer(`"sk"`, `"sk2"`, "[pgsecrets_encryption_key.old]", "[pgsecrets_encryption_key.old, pgsecrets_encryption_key.new]").Replace(secret)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgsecrets_encryption_key.old", tfjsonpath.New("state"), knownvalue.StringExact("active")),
					statecheck.CompareValuePairs("pgsecrets_project_secret.s", tfjsonpath.New("kid"),
						"pgsecrets_encryption_key.new", tfjsonpath.New("kid"), compare.ValuesSame()),
				},
			},
		},
	})
}

// A key that still encrypts a secret can be neither disabled nor
// destroyed; the error says how many and which command fixes it.
func TestAccEncryptionKeyInUseRefusesDisableAndDestroy(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	// on_destroy = "destroy": no history is kept, so nothing needs the key
	// once the secret is gone.
	const secret = `
resource "pgsecrets_project_secret" "s" {
  project    = "billing"
  name       = "STRIPE_KEY"
  value      = "sk"
  on_destroy = "destroy"
}
`
	inUse := regexp.MustCompile(`(?s)Encryption key still in use.*still encrypts 1\s+secret\(s\).*pgsecrets\s+reencrypt`)
	accTest(t, resource.TestCase{
		CheckDestroy: noDataKeys(env),
		Steps: []resource.TestStep{
			{Config: keyConfig(env, keyBlock("k", "primary"))},
			{Config: keyConfig(env, keyBlock("k", "primary"), secret)},
			{
				Config:      keyConfig(env, keyBlock("k", "disabled"), secret),
				ExpectError: inUse,
			},
			{
				Config:      env.ProviderConfig() + secret,
				ExpectError: inUse,
			},
			{
				// The refused changes left the key as it was; once nothing
				// uses it, destroy (below) removes it.
				Config: keyConfig(env, keyBlock("k", "primary")),
				Check:  keyInDatabase(env, "pgsecrets_encryption_key.k", "primary"),
			},
		},
	})
}

// A key that only a deleted secret's kept history uses is disabled on
// destroy, not deleted: the secret stays recoverable, nothing is lost.
func TestAccEncryptionKeyKeptDisabledWhileHistoryNeedsIt(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	// depends_on: written under the key, not before it exists.
	const secret = `
resource "pgsecrets_project_secret" "s" {
  project    = "billing"
  name       = "STRIPE_KEY"
  value      = "sk"
  depends_on = [pgsecrets_encryption_key.k]
}
`
	var kid string
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			dk, err := env.Store.GetDataKey(context.Background(), kid)
			if err != nil || dk.State != "disabled" {
				return fmt.Errorf("key %s after destroy: %+v (%v), want it kept, disabled", kid, dk, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: keyConfig(env, keyBlock("k", "primary"), secret),
				Check: func(s *terraform.State) error {
					kid = s.RootModule().Resources["pgsecrets_encryption_key.k"].Primary.Attributes["kid"]
					return nil
				},
			},
			// The secret goes (recoverably), then the key: no error.
			{Config: keyConfig(env, keyBlock("k", "primary"))},
		},
	})
	if _, err := env.Store.GetSecretVersion(context.Background(), "billing", "STRIPE_KEY", 1, "test"); err == nil {
		t.Fatal("the deleted secret's value opened with its key disabled")
	}
}
