package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	acc "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const defaultsAddr = "pgsecrets_provider_defaults.d"

func defaultsConfig(env *testEnv, body string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_provider_defaults" "d" {
  project = "support"
%s
}
`, body)
}

// storedDefaults checks the project's defaults in the database, as
// "use_case=provider/model" in use case order.
func storedDefaults(env *testEnv, want ...string) acc.TestCheckFunc {
	return func(*terraform.State) error {
		defs, err := env.Store.GetProviderDefaults(context.Background(), "support")
		if err != nil {
			return err
		}
		var got []string
		for _, d := range defs {
			got = append(got, d.UseCase+"="+d.Provider+"/"+d.Model)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			return fmt.Errorf("stored defaults %q, want %q", got, want)
		}
		return nil
	}
}

func TestAccProviderDefaultsCreateUpdateImportDestroy(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, acc.TestCase{
		CheckDestroy: storedDefaults(env),
		Steps: []acc.TestStep{
			{
				Config: defaultsConfig(env, `
  chat = { provider = "anthropic", model = "claude-sonnet-4-5" }
  code = { provider = "openai", model = "gpt-4.1" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(defaultsAddr, tfjsonpath.New("id"), knownvalue.StringExact("support")),
					statecheck.ExpectKnownValue(defaultsAddr, tfjsonpath.New("chat").AtMapKey("model"), knownvalue.StringExact("claude-sonnet-4-5")),
					statecheck.ExpectKnownValue(defaultsAddr, tfjsonpath.New("summary"), knownvalue.Null()),
				},
				Check: storedDefaults(env, "chat=anthropic/claude-sonnet-4-5", "code=openai/gpt-4.1"),
			},
			{
				Config: defaultsConfig(env, `
  chat    = { provider = "anthropic", model = "claude-opus-4-1" }
  summary = { provider = "mistral", model = "mistral-small-latest" }`),
				ConfigPlanChecks: acc.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(defaultsAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedDefaults(env, "chat=anthropic/claude-opus-4-1", "summary=mistral/mistral-small-latest"),
			},
			{
				ResourceName:      defaultsAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:    defaultsAddr,
				ImportState:     true,
				ImportStateKind: acc.ImportBlockWithID,
				ImportStateId:   "support",
			},
			{
				// Removed outside Terraform: the plan sets them again.
				PreConfig: func() { env.Exec("delete from provider_defaults where project = 'support'") },
				Config: defaultsConfig(env, `
  chat    = { provider = "anthropic", model = "claude-opus-4-1" }
  summary = { provider = "mistral", model = "mistral-small-latest" }`),
				ConfigPlanChecks: acc.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(defaultsAddr, plancheck.ResourceActionCreate)},
				},
				Check: storedDefaults(env, "chat=anthropic/claude-opus-4-1", "summary=mistral/mistral-small-latest"),
			},
			{
				// Changed outside Terraform: the plan puts them back.
				PreConfig: func() { env.Exec("update provider_defaults set model = 'other' where project = 'support'") },
				Config: defaultsConfig(env, `
  chat    = { provider = "anthropic", model = "claude-opus-4-1" }
  summary = { provider = "mistral", model = "mistral-small-latest" }`),
				ConfigPlanChecks: acc.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(defaultsAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedDefaults(env, "chat=anthropic/claude-opus-4-1", "summary=mistral/mistral-small-latest"),
			},
		},
	})
}

// The warning names the missing secret and how to add it, once per
// secret, and says nothing of providers whose key is there or that need
// none.
func TestProviderDefaultsWarnsWhenProviderAPIKeySecretMissing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("support", "ANTHROPIC_API_KEY", "sk-ant")
	r := &providerDefaultsResource{data: &providerData{store: env.Store}}

	diags := planDefaults(t, r, providerDefaultsModel{
		ID:      types.StringUnknown(),
		Project: types.StringValue("support"),
		Chat:    &useCaseModel{Provider: types.StringValue("anthropic"), Model: types.StringValue("claude-sonnet-4-5")},
		Code:    &useCaseModel{Provider: types.StringValue("OpenAI"), Model: types.StringValue("gpt-4.1")},
		Summary: &useCaseModel{Provider: types.StringValue("openai"), Model: types.StringValue("gpt-4.1-mini")},
	})
	if diags.HasError() {
		t.Fatalf("plan failed: %v", diags)
	}
	warnings := diags.Warnings()
	if len(warnings) != 1 {
		t.Fatalf("want one warning (OPENAI_API_KEY, once), got %d: %v", len(warnings), warnings)
	}
	w := warnings[0]
	for _, want := range []string{`Project "support" has no secret OPENAI_API_KEY`, "pgsecrets secret add --project support --name OPENAI_API_KEY", "pgsecrets_project_secret"} {
		if !strings.Contains(w.Detail(), want) {
			t.Errorf("warning %q: %q lacks %q", w.Summary(), w.Detail(), want)
		}
	}

	// A local model server needs no key.
	diags = planDefaults(t, r, providerDefaultsModel{
		ID:      types.StringUnknown(),
		Project: types.StringValue("support"),
		Chat:    &useCaseModel{Provider: types.StringValue("ollama"), Model: types.StringValue("llama3")},
	})
	if len(diags) != 0 {
		t.Fatalf("want no diagnostics for ollama, got %v", diags)
	}
}

// planDefaults runs the resource's ModifyPlan for creating m.
func planDefaults(t *testing.T, r *providerDefaultsResource, m providerDefaultsModel) diag.Diagnostics {
	t.Helper()
	ctx := context.Background()
	var sresp resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sresp)
	null := tftypes.NewValue(sresp.Schema.Type().TerraformType(ctx), nil)
	plan := tfsdk.Plan{Schema: sresp.Schema, Raw: null}
	if diags := plan.Set(ctx, &m); diags.HasError() {
		t.Fatalf("build plan: %v", diags)
	}
	req := resource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: sresp.Schema, Raw: plan.Raw},
		Plan:   plan,
		State:  tfsdk.State{Schema: sresp.Schema, Raw: null},
	}
	resp := resource.ModifyPlanResponse{Plan: plan}
	r.ModifyPlan(ctx, req, &resp)
	return resp.Diagnostics
}
