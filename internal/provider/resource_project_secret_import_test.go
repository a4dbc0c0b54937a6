package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// importBlock is an import block for the resource of secretWithValue and
// secretWithWriteOnly.
func importBlock(id string) string {
	return `
import {
  to = pgsecrets_project_secret.api
  id = "` + id + `"
}
`
}

// A secret added with the CLI, then taken over by a configuration holding
// the same value: `project/name` reads the value, so the import has
// nothing to apply and the plan after it is empty.
func TestAccProjectSecretImportedWithValuePlansNoChange(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("billing", "STRIPE_KEY", "sk_live_from_cli")
	config := secretWithValue(env, "sk_live_from_cli", "")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				// putSecret leaves description and category empty; the
				// configuration sets category = "payments".
				PreConfig: func() { env.Exec("update secrets set category = 'payments'") },
				Config:    config + importBlock("billing/STRIPE_KEY"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionNoop)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value"), knownvalue.StringExact("sk_live_from_cli")),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("on_destroy"), knownvalue.StringExact("delete")),
				},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// `project/name:write-only` imports a value_wo secret without its value:
// neither the plan file nor the state ever holds it, and the apply writes
// value_wo.
func TestAccProjectSecretImportedWriteOnlyLeavesValueOutOfState(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	env := newTestEnv(t)
	const fromCLI, configured = "canary-import-3c9b7e10", "canary-import-d51f0a66"
	env.putSecret("billing", "STRIPE_KEY", fromCLI)
	config := secretWithWriteOnly(env, configured, 1)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config + importBlock("billing/STRIPE_KEY"+writeOnlyImportSuffix),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate),
						planFilesLack(tmp, fromCLI, configured),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value"), knownvalue.Null()),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value_wo"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedValue(env, configured), stateFilesLack(tmp, fromCLI, configured)),
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// Imported by `project/name` into a configuration that uses value_wo, the
// value is in state: the plan says so, and how to import instead.
func TestAccProjectSecretImportWithValueIntoWriteOnlyConfigWarns(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("billing", "STRIPE_KEY", "from the CLI")
	warnings := &planWarnings{}
	accTestRecordingWarnings(t, warnings, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: secretWithWriteOnly(env, "configured", 1) + importBlock("billing/STRIPE_KEY"),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate),
					warned(warnings, func() string { return `Import value_wo secrets with "billing/STRIPE_KEY:write-only".` }),
				},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value"), knownvalue.Null()),
			},
			Check: storedValue(env, "configured"),
		}},
	})
}

func TestAccProjectSecretImportOfMissingSecretSaysSo(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      secretWithValue(env, "v", "") + importBlock("billing/STRIPE_KEY"),
			ExpectError: regexp.MustCompile(`(?s)There is no secret billing/STRIPE_KEY.*pgsecrets\s+secret\s+list`),
		}},
	})
}

// planFilesLack checks, as a plan check, that the saved plan and every
// other file under dir lack the canaries.
func planFilesLack(dir string, canaries ...string) plancheck.PlanCheck {
	return planCheckFunc(func() error { return filesLack(dir, "tfplan", canaries...) })
}

type planCheckFunc func() error

func (f planCheckFunc) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f()
}

// A secret Terraform created, forgot (`terraform state rm`, here a removed
// block) and imported again is watched as before: a write made through
// the store since the import shows in the next plan with its author, for
// `value` and `value_wo` alike, imported by `terraform import` or by an
// import block. (An import block of a value_wo secret applies value_wo at
// once, which is a write of Terraform's own.)
func TestAccProjectSecretImportedThenWrittenOutsideNamesWhoWroteIt(t *testing.T) {
	t.Parallel()
	valueConfig := func(env *testEnv) string { return secretWithValue(env, "configured", "") }
	for _, tc := range []struct {
		kind, importID string
		block          bool
		config         func(*testEnv) string
		keep           string
	}{
		{"value", "billing/STRIPE_KEY", false, valueConfig, "To keep their value instead, set value to it"},
		{"value import block", "billing/STRIPE_KEY", true, valueConfig, "To keep their value instead, set value to it"},
		{"value_wo", "billing/STRIPE_KEY" + writeOnlyImportSuffix, false, func(env *testEnv) string { return secretWithWriteOnly(env, "configured", 1) },
			"To keep their value instead, put it in value_wo."},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			oncall := env.storeAs("oncall@example")
			warnings := &planWarnings{}
			config := tc.config(env)
			importStep := resource.TestStep{
				Config: config, ResourceName: secretAddr,
				ImportState: true, ImportStateId: tc.importID, ImportStatePersist: true,
			}
			if tc.block {
				importStep = resource.TestStep{
					Config: config + importBlock(tc.importID),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionNoop)},
					},
				}
			}
			accTestRecordingWarnings(t, warnings, resource.TestCase{
				Steps: append([]resource.TestStep{
					{Config: config},
					{
						// terraform state rm: the secret stays, Terraform forgets it.
						Config: env.ProviderConfig() + `
removed {
  from = pgsecrets_project_secret.api
  lifecycle {
    destroy = false
  }
}
`,
						Check: storedValue(env, "configured"),
					},
					importStep,
				}, writtenOutsideSteps(t, env, warnings, oncall, config, tc.keep)...),
			})
		})
	}
}
