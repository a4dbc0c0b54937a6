package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	acc "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const defaultsAddr = "pgsecrets_model_defaults.d"

func defaultsConfig(env *testEnv, body string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_model_defaults" "d" {
  project = "support"
%s
}
`, body)
}

// storedDefaults checks the project's defaults in the database, as
// "use_case=provider/model" in use case order.
func storedDefaults(env *testEnv, want ...string) acc.TestCheckFunc {
	return func(*terraform.State) error {
		defs, err := env.Store.GetModelDefaults(context.Background(), "support")
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

func TestAccModelDefaultsCreateUpdateImportDestroy(t *testing.T) {
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

// The warning names the missing secret and how to add it (depends_on
// included), once per secret, and says nothing of providers whose key is
// there or that need none.
func TestModelDefaultsWarnsWhenProviderAPIKeySecretMissing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("support", "ANTHROPIC_API_KEY", "sk-ant")
	r := &modelDefaultsResource{data: &providerData{store: env.Store}}
	ctx := context.Background()

	diags := r.missingAPIKeyWarnings(ctx, &modelDefaultsModel{
		Project: types.StringValue("support"),
		Chat:    &useCaseModel{Provider: types.StringValue("anthropic"), Model: types.StringValue("claude-sonnet-4-5")},
		Code:    &useCaseModel{Provider: types.StringValue("OpenAI"), Model: types.StringValue("gpt-4.1")},
		Summary: &useCaseModel{Provider: types.StringValue("openai"), Model: types.StringValue("gpt-4.1-mini")},
	})
	warnings := diags.Warnings()
	if len(warnings) != 1 || diags.HasError() {
		t.Fatalf("want one warning (OPENAI_API_KEY, once), got %d: %v", len(warnings), diags)
	}
	w := warnings[0]
	for _, want := range []string{`Project "support" has no secret OPENAI_API_KEY`, "pgsecrets secret add --project support --name OPENAI_API_KEY", "pgsecrets_project_secret", "depends_on"} {
		if !strings.Contains(w.Detail(), want) {
			t.Errorf("warning %q: %q lacks %q", w.Summary(), w.Detail(), want)
		}
	}

	// A local model server needs no key.
	diags = r.missingAPIKeyWarnings(ctx, &modelDefaultsModel{
		Project: types.StringValue("support"),
		Chat:    &useCaseModel{Provider: types.StringValue("ollama"), Model: types.StringValue("llama3")},
	})
	if len(diags) != 0 {
		t.Fatalf("want no diagnostics for ollama, got %v", diags)
	}
}

// A configuration that creates the key secret and the defaults, as the
// quickstart does, shows no warning: not on its first plan, not when
// applied, not on later plans and updates.
func TestAccModelDefaultsNoWarningWhenTheConfigurationCreatesTheKey(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	config := func(model string) string {
		return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "openai" {
  project          = "support"
  name             = "OPENAI_API_KEY"
  value_wo         = "sk-proj-acceptance-0000000000000000"
  value_wo_version = 1
}

resource "pgsecrets_model_defaults" "d" {
  project = "support"
  chat    = { provider = "openai", model = %q }
  summary = { provider = "openai", model = "gpt-4o-mini" }

  depends_on = [pgsecrets_project_secret.openai]
}
`, model)
	}
	rec := accTestRecordingDiagnostics(t, acc.TestCase{
		Steps: []acc.TestStep{
			{Config: config("gpt-4o"), PlanOnly: true, ExpectNonEmptyPlan: true}, // a fresh plan
			{Config: config("gpt-4o"), Check: storedDefaults(env, "chat=openai/gpt-4o", "summary=openai/gpt-4o-mini")},
			{Config: config("gpt-4.1"), Check: storedDefaults(env, "chat=openai/gpt-4.1", "summary=openai/gpt-4o-mini")},
		},
	})
	if got := rec.warnings(""); len(got) != 0 {
		t.Errorf("warnings, want none:\n%s", strings.Join(got, "\n"))
	}
	if rec.calls("PlanResourceChange") == 0 || rec.calls("ApplyResourceChange") == 0 {
		t.Errorf("recorded %d plans and %d applies of %s: the recorder saw nothing", rec.calls("PlanResourceChange"), rec.calls("ApplyResourceChange"), defaultsType)
	}
}

// Without the key secret, the plan says nothing and the apply that sets
// the defaults warns once (one secret for two use cases); once the secret
// exists, changing the defaults warns no more.
func TestAccModelDefaultsWarnsOnceAtApplyWhenTheKeyIsMissing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	config := func(model string) string {
		return defaultsConfig(env, fmt.Sprintf(`
  chat    = { provider = "openai", model = %q }
  summary = { provider = "openai", model = "gpt-4o-mini" }`, model))
	}
	var afterFirstApply []string
	rec := &diagRecorder{}
	accTestWith(t, rec, acc.TestCase{
		Steps: []acc.TestStep{
			{Config: config("gpt-4o"), PlanOnly: true, ExpectNonEmptyPlan: true},
			{
				Config: config("gpt-4o"),
				Check: func(*terraform.State) error {
					afterFirstApply = rec.warnings("")
					return nil
				},
			},
			{
				PreConfig: func() { env.putSecret("support", "OPENAI_API_KEY", "sk-proj-added-by-hand-0000000000") },
				Config:    config("gpt-4.1"),
				Check:     storedDefaults(env, "chat=openai/gpt-4.1", "summary=openai/gpt-4o-mini"),
			},
		},
	})
	if len(afterFirstApply) != 1 || !strings.HasPrefix(afterFirstApply[0], "ApplyResourceChange: Provider API key secret missing: ") ||
		!strings.Contains(afterFirstApply[0], "no secret OPENAI_API_KEY") {
		t.Errorf("after the first apply, warnings:\n%s\nwant one, from ApplyResourceChange, about OPENAI_API_KEY", strings.Join(afterFirstApply, "\n"))
	}
	if got := rec.warnings("PlanResourceChange"); len(got) != 0 {
		t.Errorf("plan warnings, want none:\n%s", strings.Join(got, "\n"))
	}
	if got := rec.warnings(""); len(got) != 1 {
		t.Errorf("warnings over the whole test, want the first apply's only:\n%s", strings.Join(got, "\n"))
	}
}

const defaultsType = "pgsecrets_model_defaults"

// diagRecorder keeps the diagnostics the provider sends Terraform about
// pgsecrets_model_defaults, as "RPC: summary: detail".
type diagRecorder struct {
	mu    sync.Mutex
	diags []string
	n     map[string]int
}

func (r *diagRecorder) record(rpc, typeName string, diags []*tfprotov6.Diagnostic) {
	if typeName != defaultsType {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[rpc]++
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityWarning {
			r.diags = append(r.diags, rpc+": "+d.Summary+": "+d.Detail)
		}
	}
}

// warnings are the warnings recorded from rpc ("" for every RPC).
func (r *diagRecorder) warnings(rpc string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.diags {
		if rpc == "" || strings.HasPrefix(d, rpc+": ") {
			out = append(out, d)
		}
	}
	return out
}

func (r *diagRecorder) calls(rpc string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[rpc]
}

// recordingServer is the provider's protocol server with its plans and
// applies recorded: exactly what Terraform receives and shows.
type recordingServer struct {
	tfprotov6.ProviderServer
	rec *diagRecorder
}

func (s recordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.rec.record("PlanResourceChange", req.TypeName, resp.Diagnostics)
	}
	return resp, err
}

func (s recordingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	resp, err := s.ProviderServer.ApplyResourceChange(ctx, req)
	if resp != nil {
		s.rec.record("ApplyResourceChange", req.TypeName, resp.Diagnostics)
	}
	return resp, err
}

// accTestRecordingDiagnostics is accTest with the diagnostics about
// pgsecrets_model_defaults recorded.
func accTestRecordingDiagnostics(t *testing.T, tc acc.TestCase) *diagRecorder {
	t.Helper()
	rec := &diagRecorder{}
	accTestWith(t, rec, tc)
	return rec
}

// accTestWith runs tc as accTest does (which it cannot call: accTest sets
// the provider's factory itself), with the provider's server recorded.
func accTestWith(t *testing.T, rec *diagRecorder, tc acc.TestCase) {
	t.Helper()
	serve := providerserver.NewProtocol6WithError(testAccProvider)
	tc.ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
		"pgsecrets": func() (tfprotov6.ProviderServer, error) {
			s, err := serve()
			if err != nil {
				return nil, err
			}
			return recordingServer{ProviderServer: s, rec: rec}, nil
		},
	}
	runAccTest(t, tc)
}

// A configuration written with pgsecrets_provider_defaults, the resource's
// earlier name, still applies; a moved block takes its state to
// pgsecrets_model_defaults with nothing written again.
func TestAccProviderDefaultsMovesToModelDefaults(t *testing.T) {
	env := newTestEnv(t)
	const body = `
  project = "support"
  chat    = { provider = "anthropic", model = "claude-sonnet-4-5" }`
	var events int
	accTest(t, acc.TestCase{
		Steps: []acc.TestStep{
			{
				Config: env.ProviderConfig() + `
resource "pgsecrets_provider_defaults" "d" {` + body + `
}
`,
				Check: acc.ComposeTestCheckFunc(storedDefaults(env, "chat=anthropic/claude-sonnet-4-5"), func(*terraform.State) error {
					return env.pool.QueryRow(context.Background(), "select count(*) from audit_events").Scan(&events)
				}),
			},
			{
				Config: env.ProviderConfig() + `
resource "pgsecrets_model_defaults" "d" {` + body + `
}

moved {
  from = pgsecrets_provider_defaults.d
  to   = pgsecrets_model_defaults.d
}
`,
				ConfigPlanChecks: acc.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(defaultsAddr, plancheck.ResourceActionNoop)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(defaultsAddr, tfjsonpath.New("chat").AtMapKey("model"), knownvalue.StringExact("claude-sonnet-4-5")),
				},
				Check: func(*terraform.State) error {
					var now int
					if err := env.pool.QueryRow(context.Background(), "select count(*) from audit_events").Scan(&now); err != nil {
						return err
					}
					if now != events {
						return fmt.Errorf("the move wrote %d audit event(s); want none", now-events)
					}
					return nil
				},
			},
		},
	})
}
