package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

const projectKeyAddr = "pgsecrets_project_key.billing"

// projectKeyBlock is billing's key resource with extra arguments.
func projectKeyBlock(extra ...string) string {
	return "\nresource \"pgsecrets_project_key\" \"billing\" {\n  project = \"billing\"\n  " + strings.Join(extra, "\n  ") + "\n}\n"
}

// rotatedConfig is billing's key with a rotation trigger, two secrets of
// billing written through Terraform (value and value_wo), and one of shop.
func rotatedConfig(env *testEnv, trigger string) string {
	return env.ProviderConfig() + projectKeyBlock(fmt.Sprintf("rotate_when_changed = { rotation = %q }", trigger)) + `
resource "pgsecrets_project_secret" "stripe" {
  project    = "billing"
  name       = "STRIPE_KEY"
  value      = "sk_live_rotated_canary"
  depends_on = [pgsecrets_project_key.billing]
}

resource "pgsecrets_project_secret" "webhook" {
  project          = "billing"
  name             = "WEBHOOK_SECRET"
  value_wo         = "whsec_rotated_canary"
  value_wo_version = 1
  depends_on       = [pgsecrets_project_key.billing]
}

resource "pgsecrets_project_secret" "shop" {
  project = "shop"
  name    = "SHOP_TOKEN"
  value   = "shop_token_canary"
}
`
}

// projectKeys checks what keys project has in the database: exactly one,
// the primary, holding secrets secrets and versions kept versions.
func projectKeys(env *testEnv, project string, secrets, versions int64, kid *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		keys, err := env.Store.ListProjectKeys(context.Background(), project)
		if err != nil {
			return err
		}
		if len(keys) != 1 || keys[0].State != store.ProjectKeyPrimary {
			return fmt.Errorf("project %s has %d key(s) (%+v), want one primary", project, len(keys), keys)
		}
		if keys[0].Secrets != secrets || keys[0].Versions != versions {
			return fmt.Errorf("key of project %s holds %d secret(s) and %d version(s), want %d and %d", project, keys[0].Secrets, keys[0].Versions, secrets, versions)
		}
		if kid != nil {
			*kid = keys[0].KID
		}
		return nil
	}
}

// storedValues checks values in the database.
func storedValues(env *testEnv, project string, values map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for name, want := range values {
			sec, err := env.Store.GetSecret(context.Background(), project, name, "test")
			if err != nil {
				return err
			}
			if string(sec.Value) != want {
				return fmt.Errorf("%s/%s changed value (%d bytes, want %d)", project, name, len(sec.Value), len(want))
			}
		}
		return nil
	}
}

func differs(what string, before *string, now func() string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := now(); got == *before {
			return fmt.Errorf("%s is still %s", what, got)
		}
		return nil
	}
}

// A project key is adopted from the project's first write, imported by
// project name, and rotated in place when rotate_when_changed changes: when
// the apply returns, every secret of the project and its history is under
// the new key with its value unchanged, the old key is gone, another
// project is untouched, and the next plan is empty.
func TestAccProjectKeyRotationMovesEveryProjectSecret(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	var before, shopKID string
	billing := map[string]string{"STRIPE_KEY": "sk_live_rotated_canary", "WEBHOOK_SECRET": "whsec_rotated_canary", "OUTSIDE": "outside_canary_2"}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				// A secret of billing written outside Terraform, with history.
				PreConfig: func() {
					seedSecrets(t, env, "billing", map[string]string{"OUTSIDE": "outside_canary_1"})
					env.putSecret("billing", "OUTSIDE", "outside_canary_2")
				},
				Config: rotatedConfig(env, "1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("id"), knownvalue.StringExact("billing")),
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("kid"), projectKIDIs{env, "billing"}),
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("state"), knownvalue.StringExact("primary")),
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("wrapping_kid"), knownvalue.StringExact(env.rootKID())),
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("created_at"), knownvalue.StringRegexp(listedTimestamp)),
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("shred_on_destroy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("pgsecrets_project_secret.stripe", tfjsonpath.New("kid"), projectKIDIs{env, "billing"}),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					projectKeys(env, "billing", 3, 1, &before),
					projectKeys(env, "shop", 1, 0, &shopKID),
				),
			},
			{
				ResourceName:      projectKeyAddr,
				ImportState:       true,
				ImportStateId:     "billing",
				ImportStateVerify: true,
				// The trigger is configuration only; an import records it
				// at its next apply, without rotating.
				ImportStateVerifyIgnore: []string{"rotate_when_changed"},
			},
			{
				Config: rotatedConfig(env, "2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(projectKeyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(projectKeyAddr, tfjsonpath.New("kid")),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.stripe", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.shop", plancheck.ResourceActionNoop),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("kid"), projectKIDIs{env, "billing"}),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					differs("billing's key", &before, func() string { return env.projectKID("billing") }),
					// One key left: the secrets and the kept version moved,
					// and the retired key was deleted.
					projectKeys(env, "billing", 3, 1, nil),
					storedValues(env, "billing", billing),
					projectKeys(env, "shop", 1, 0, &shopKID),
					func(*terraform.State) error {
						if kid := env.projectKID("shop"); kid != shopKID {
							return fmt.Errorf("shop's key changed from %s to %s", shopKID, kid)
						}
						return nil
					},
				),
			},
		},
	})
}

// A key older than rotation_period plans an update (so `plan
// -detailed-exitcode` reports a change, as time_rotating does), and the
// apply rotates it.
func TestAccProjectKeyRotationPeriodPlansADueRotation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	seedSecrets(t, env, "billing", map[string]string{"STRIPE_KEY": "sk_live_period_canary"})
	before := env.projectKID("billing")
	config := env.ProviderConfig() + projectKeyBlock(`rotation_period = "90d"`)
	age := func() {
		env.Exec("update project_keys set created_at = now() - interval '91 days' where project = 'billing'")
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("kid"), knownvalue.StringExact(before)),
				},
			},
			{
				PreConfig:          age,
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(projectKeyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(projectKeyAddr, tfjsonpath.New("kid")),
					},
				},
			},
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					differs("billing's key", &before, func() string { return env.projectKID("billing") }),
					projectKeys(env, "billing", 1, 0, nil),
					storedValues(env, "billing", map[string]string{"STRIPE_KEY": "sk_live_period_canary"}),
				),
			},
		},
	})
}

// Destroying the resource leaves the key and every secret in place; only
// shred_on_destroy = true shreds the project, and only that project.
func TestAccProjectKeyDestroyShredsOnlyWhenAskedTo(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	seedSecrets(t, env, "billing", map[string]string{"STRIPE_KEY": "sk_live_shred_canary"})
	seedSecrets(t, env, "shop", map[string]string{"SHOP_TOKEN": "shop_token_canary"})
	kid := env.projectKID("billing")
	nothing := env.ProviderConfig()
	billingGone := func(*terraform.State) error {
		if _, err := env.Store.GetSecretMeta(context.Background(), "billing", "STRIPE_KEY"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("billing/STRIPE_KEY survived the shred (err %v)", err)
		}
		if keys, err := env.Store.ListProjectKeys(context.Background(), "billing"); err != nil || len(keys) != 0 {
			return fmt.Errorf("billing has %d key(s) after the shred (err %v)", len(keys), err)
		}
		return nil
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: nothing + projectKeyBlock(),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("kid"), knownvalue.StringExact(kid)),
				},
			},
			{
				Config: nothing,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(projectKeyAddr, plancheck.ResourceActionDestroy)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					storedValues(env, "billing", map[string]string{"STRIPE_KEY": "sk_live_shred_canary"}),
					projectKeys(env, "billing", 1, 0, &kid),
				),
			},
			{
				Config: nothing + projectKeyBlock("shred_on_destroy = true"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(projectKeyAddr, tfjsonpath.New("kid"), knownvalue.StringExact(kid)),
				},
			},
			{
				Config: nothing,
				Check: resource.ComposeAggregateTestCheckFunc(
					billingGone,
					storedValues(env, "shop", map[string]string{"SHOP_TOKEN": "shop_token_canary"}),
				),
			},
		},
	})
}

// A store upgraded with secrets from before project keys refuses the
// resource at plan time, naming the command that moves it; a store on
// project keys refuses a new global data key, naming the resource to use.
func TestAccProjectKeyAndGlobalDataKeyRefusedInTheWrongStore(t *testing.T) {
	t.Parallel()
	legacy := newLegacyTestEnv(t)
	current := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      legacy.ProviderConfig() + projectKeyBlock(),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Cannot manage project key.*has\s+not\s+moved\s+to\s+project\s+keys\s+yet.*pgsecrets\s+reencrypt`),
			},
			{
				Config:      current.ProviderConfig() + keyBlock("k", "primary"),
				ExpectError: regexp.MustCompile(`(?s)own\s+key\s+\(project\s+keys\).*pgsecrets_project_key`),
			},
		},
	})
}

func TestAccProjectKeyRotationPeriodMustBeADuration(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      env.ProviderConfig() + projectKeyBlock(`rotation_period = "quarterly"`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid rotation_period.*positive duration.*90d`),
		}},
	})
}

// The planner role, with no root keys, plans the key with no diff after an
// apply, plans a rotation that rotation_period makes due, and cannot apply
// it.
func TestAccProjectKeyPlannerRolePlansWithoutKeys(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	seedSecrets(t, env, "billing", map[string]string{"STRIPE_KEY": "sk_live_planner_canary"})
	before := env.projectKID("billing")
	key := projectKeyBlock(`rotation_period = "90d"`, `rotate_when_changed = { reason = "1" }`)
	planner := plannerConfig(env, env.plannerURL(), key)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: env.ProviderConfig() + key},
			{Config: planner, PlanOnly: true},
			{
				PreConfig: func() {
					env.Exec("update project_keys set created_at = now() - interval '91 days' where project = 'billing'")
				},
				Config:             planner,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(projectKeyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(projectKeyAddr, tfjsonpath.New("kid")),
					},
				},
			},
			{
				Config:      planner,
				ExpectError: regexp.MustCompile(`(?s)Root keys required.*Rotating a pgsecrets_project_key needs the\s+root\s+keys`),
				Check: func(*terraform.State) error {
					if kid := env.projectKID("billing"); kid != before {
						return fmt.Errorf("the planner's apply rotated the key to %s", kid)
					}
					return nil
				},
			},
			// The owner's apply does the due rotation, so the destroy runs clean.
			{Config: env.ProviderConfig() + key},
		},
	})
}

// Importing in a store not yet moved to project keys names the fix.
func TestAccProjectKeyImportInAStoreNotYetMovedNamesTheFix(t *testing.T) {
	t.Parallel()
	env := newLegacyTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:        env.ProviderConfig() + projectKeyBlock(),
			ResourceName:  projectKeyAddr,
			ImportState:   true,
			ImportStateId: "billing",
			ExpectError:   regexp.MustCompile(`(?s)Cannot import project key.*has\s+not\s+moved\s+to\s+project\s+keys\s+yet.*pgsecrets\s+reencrypt`),
		}},
	})
}
