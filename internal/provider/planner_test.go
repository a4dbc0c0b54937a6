package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// plannerURL makes a role granted what `migrate up --grant-planner` grants
// and returns its connection string.
func (e *testEnv) plannerURL() string {
	e.t.Helper()
	return storetest.RoleURL(e.t, e.DatabaseURL, e.pool, e.Schema, store.GrantPlanner)
}

// plannerConfig is the configuration a pull request's plan runs: the
// planner role, no root keys.
func plannerConfig(e *testEnv, url, resources string) string {
	return fmt.Sprintf(`
provider "pgsecrets" {
  database_url = %s
  schema       = %s
}
`, hclString(url), hclString(e.Schema)) + resources
}

// plannedSecrets is a value secret, a value_wo secret, the project key and the
// model defaults; description and wo are what steps change.
func plannedSecrets(description string, withWriteOnly bool) string {
	wo := ""
	if withWriteOnly {
		wo = `
resource "pgsecrets_project_secret" "wo" {
  project          = "billing"
  name             = "WEBHOOK_SECRET"
  value_wo         = "whsec_configured"
  value_wo_version = 1
  depends_on       = [pgsecrets_project_key.k]
}
`
	}
	return fmt.Sprintf(`
resource "pgsecrets_project_secret" "api" {
  project     = "billing"
  name        = "STRIPE_KEY"
  value       = "sk_configured"
  description = %s
  depends_on  = [pgsecrets_project_key.k]
}

resource "pgsecrets_project_key" "k" {
  project         = "billing"
  rotation_period = "90d"
}

resource "pgsecrets_model_defaults" "d" {
  project = "billing"
  chat    = { provider = "anthropic", model = "claude-sonnet-4-5" }
}
`, hclString(description)) + wo
}

// A pull request's plan runs as the planner role with no root keys: it sees
// no changes after an apply, drift made with SQL or the CLI (a value secret
// plans an update and says its value was not compared), a new secret, a
// changed description and a removed resource. Its apply is refused before
// anything is written, and PostgreSQL refuses it the ciphertexts.
func TestAccPlanWithoutRootKeysAsPlannerRole(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	planner := env.plannerURL()
	outsider := env.storeAs("alice@ops-1")
	warnings := &planWarnings{}
	owner := env.ProviderConfig() + plannedSecrets("Stripe", true)
	plan := func(resources string) string { return plannerConfig(env, planner, resources) }
	accTestRecordingWarnings(t, warnings, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: owner},
			{
				// Plan with no keys right after the apply: nothing to do.
				PreConfig: warnings.reset,
				Config:    plan(plannedSecrets("Stripe", true)),
				PlanOnly:  true,
			},
			{
				// Drift through the store: both secrets plan an update, and
				// the value secret's warning says why it was not compared.
				PreConfig: func() {
					warnings.reset()
					putAs(t, outsider, "billing", "STRIPE_KEY", "sk_changed_by_alice")
					putAs(t, outsider, "billing", "WEBHOOK_SECRET", "whsec_changed_by_alice")
				},
				Config:             plan(plannedSecrets("Stripe", true)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgsecrets_project_secret.api", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.wo", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgsecrets_project_key.k", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("pgsecrets_model_defaults.d", plancheck.ResourceActionNoop),
						warned(warnings, func() string {
							return "Its value was not compared because the provider was given no root keys (root_keys)"
						}),
					},
				},
			},
			// The owner's apply writes the configured values back.
			{Config: owner},
			{
				// Drift by SQL: a description edited by hand, a revision
				// moved by hand. (A value cannot be changed by SQL alone: a
				// ciphertext is bound to its revision.)
				PreConfig: func() {
					env.Exec("update secrets set description = 'edited by hand' where project = 'billing' and name = 'STRIPE_KEY'")
					env.Exec("update secrets set revision = revision + 1, updated_by = 'psql' where project = 'billing' and name = 'WEBHOOK_SECRET'")
				},
				Config:             plan(plannedSecrets("Stripe", true)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgsecrets_project_secret.wo", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.api", plancheck.ResourceActionUpdate),
					},
				},
			},
			{Config: owner},
			{
				// A changed description, a removed resource, a new secret.
				Config: plan(plannedSecrets("Stripe live key", false) + `
resource "pgsecrets_project_secret" "new" {
  project          = "billing"
  name             = "SLACK_BOT_TOKEN"
  value_wo         = "xoxb-1-2-abc"
  value_wo_version = 1
  depends_on       = [pgsecrets_project_key.k]
}
`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgsecrets_project_secret.api", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.wo", plancheck.ResourceActionDestroy),
						plancheck.ExpectResourceAction("pgsecrets_project_secret.new", plancheck.ResourceActionCreate),
					},
				},
			},
			{
				// Its apply fails before writing anything.
				Config:      plan(plannedSecrets("Stripe live key", true)),
				ExpectError: regexp.MustCompile(`(?s)Root keys required.*Updating a pgsecrets_project_secret needs the root\s+keys.*root_keys`),
				Check:       storedDescription(env, "Stripe"),
			},
			{
				PreConfig: func() { refuseCiphertexts(t, planner) },
				Config:    owner,
				Check:     storedDescription(env, "Stripe"),
			},
		},
	})
}

// storedDescription checks billing/STRIPE_KEY's description in the database.
func storedDescription(env *testEnv, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		meta, err := env.Store.GetSecretMeta(context.Background(), "billing", "STRIPE_KEY")
		if err != nil {
			return err
		}
		if meta.Description != want {
			return fmt.Errorf("description is %q, want %q", meta.Description, want)
		}
		return nil
	}
}

// refuseCiphertexts checks that PostgreSQL refuses the planner role a
// ciphertext.
func refuseCiphertexts(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var c string
	err = conn.QueryRow(ctx, "select ciphertext from "+testSchema+".secrets limit 1").Scan(&c)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("planner role's select ciphertext: %v, want permission denied", err)
	}
}

// What needs a value fails a plan without root keys with a message naming
// root_keys, not a permission error.
func TestAccResolvedConfigWithoutRootKeysNamesRootKeys(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	if _, err := env.Store.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: "API_KEY", Value: []byte("sk-canary"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: plannerConfig(env, env.plannerURL(), `
data "pgsecrets_resolved_config" "c" {
  project = "app"
  config  = jsonencode({ apiKey = { "$secretRef" = { name = "API_KEY" } } })
}
`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Root keys required.*Resolving the secret references of project "app" needs\s+the\s+root\s+keys.*root_keys`),
		}},
	})
}
