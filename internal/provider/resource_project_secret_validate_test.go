package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

const anthropicAddr = "pgsecrets_project_secret.anthropic"

// anthropicSecret is ANTHROPIC_API_KEY with its value from a sensitive
// variable, so that Terraform's own error snippets show `var.key` and any
// copy of the value in the output can only come from the provider.
// attrs is added to the resource block.
func anthropicSecret(env *testEnv, attrs string) string {
	return env.ProviderConfig() + `
variable "key" {
  type      = string
  sensitive = true
}

resource "pgsecrets_project_secret" "anthropic" {
  project = "assistant"
  name    = "ANTHROPIC_API_KEY"
  value   = var.key
` + attrs + `
}
`
}

func anthropicWriteOnly(env *testEnv) string {
	return env.ProviderConfig() + `
variable "key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "pgsecrets_project_secret" "anthropic" {
  project          = "assistant"
  name             = "ANTHROPIC_API_KEY"
  value_wo         = var.key
  value_wo_version = 1
}
`
}

// wrongShape is what a refused ANTHROPIC_API_KEY says: the expected shape
// and the way out.
var wrongShape = regexp.MustCompile(`(?s)Value does not fit ANTHROPIC_API_KEY.*the value of ANTHROPIC_API_KEY does not\s+look like.*"sk-ant-".*set validate = false to store it\s+anyway`)

// A pasted wrong token is refused at plan time, naming the expected shape,
// and the error never repeats the value; validate = false stores it.
func TestAccProjectSecretWrongShapeRefusedAtPlanWithoutEchoingValue(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	const canary = "canary-not-a-key-123"
	vars := config.Variables{"key": config.StringVariable(canary)}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: anthropicSecret(env, ""), ConfigVariables: vars, PlanOnly: true, ExpectError: wrongShape},
			// The same failure again, its whole output checked for the value.
			{Config: anthropicSecret(env, ""), ConfigVariables: vars, PlanOnly: true, ExpectError: lacking(canary)},
			{
				Config:          anthropicSecret(env, "validate = false"),
				ConfigVariables: vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("validate"), knownvalue.Bool(false)),
				},
				Check: storedSecret(env, "assistant", "ANTHROPIC_API_KEY", canary),
			},
		},
	})
}

// Terraform passes a known write-only value to validation, so value_wo is
// checked as value is, with the same care for the value.
func TestAccProjectSecretWrongShapeWriteOnlyRefusedAtPlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	const canary = "canary-wo-not-a-key-456"
	vars := config.Variables{"key": config.StringVariable(canary)}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: anthropicWriteOnly(env), ConfigVariables: vars, PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Value does not fit ANTHROPIC_API_KEY.*value_wo.*"sk-ant-".*set validate = false`)},
			{Config: anthropicWriteOnly(env), ConfigVariables: vars, PlanOnly: true, ExpectError: lacking(canary)},
			{
				// A well-shaped value goes through.
				Config:          anthropicWriteOnly(env),
				ConfigVariables: config.Variables{"key": config.StringVariable("sk-ant-api03-wellshaped")},
				Check:           storedSecret(env, "assistant", "ANTHROPIC_API_KEY", "sk-ant-api03-wellshaped"),
			},
		},
	})
}

// An unset category is planned from the catalog (the plan shows it), a set
// one is kept, and a name outside the catalog gets none; switching
// validate changes nothing stored (same revision).
func TestAccProjectSecretCategoryDefaultsFromCatalog(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	vars := config.Variables{"key": config.StringVariable("sk-ant-api03-wellshaped")}
	other := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "other" {
  project = "assistant"
  name    = "INTERNAL_TOKEN"
  value   = "anything goes"
}
`
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:          anthropicSecret(env, ""),
				ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("category"), knownvalue.StringExact("ai")),
						plancheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("validate"), knownvalue.Bool(true)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("category"), knownvalue.StringExact("ai")),
				},
				Check: storedCategory(env, "assistant", "ANTHROPIC_API_KEY", "ai"),
			},
			{
				ResourceName:            anthropicAddr,
				ImportState:             true,
				ImportStateId:           "assistant/ANTHROPIC_API_KEY",
				ConfigVariables:         vars,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"value"},
			},
			{
				Config:          anthropicSecret(env, "validate = false"),
				ConfigVariables: vars,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(anthropicAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
				},
			},
			{
				Config:          anthropicSecret(env, `category = "assistants"`),
				ConfigVariables: vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(anthropicAddr, tfjsonpath.New("category"), knownvalue.StringExact("assistants")),
				},
				Check: storedCategory(env, "assistant", "ANTHROPIC_API_KEY", "assistants"),
			},
			{
				Config: other,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgsecrets_project_secret.other", tfjsonpath.New("category"), knownvalue.StringExact("")),
				},
			},
		},
	})
}

// lacking matches any text that does not contain canary: ExpectError is
// the only view terraform-plugin-testing gives of a failed command's
// output, and it takes a pattern. The canary's first character must occur
// only once in it, so that a broken partial match can only restart there.
func lacking(canary string) *regexp.Regexp {
	first, rest := canary[:1], canary[1:]
	if strings.Contains(rest, first) {
		panic("lacking: the canary's first character must not occur again in it")
	}
	q := regexp.QuoteMeta
	var again, out, end []string
	for k := range len(rest) {
		seen := q(rest[:k]) // after first
		again = append(again, seen+q(first))
		out = append(out, fmt.Sprintf(`%s[^\x{%x}\x{%x}]`, seen, rest[k], first[0]))
		end = append(end, seen)
	}
	f := q(first)
	return regexp.MustCompile(fmt.Sprintf(`^(?:[^\x{%x}]|%s(?:%s)*(?:%s))*(?:%s(?:%s)*(?:%s))?$`,
		first[0], f, strings.Join(again, "|"), strings.Join(out, "|"), f, strings.Join(again, "|"), strings.Join(end, "|")))
}

func TestLackingMatchesOnlyTextWithoutTheCanary(t *testing.T) {
	re := lacking("canary-1")
	for _, s := range []string{"", "c", "cc", "canary-", "ccanary-", "xcanary-2\ncanary", "Error: shape\n"} {
		if !re.MatchString(s) {
			t.Errorf("lacking refused %q, which lacks the canary", s)
		}
	}
	for _, s := range []string{"canary-1", "ccanary-1", "x\ncanary-1\ny", "canary-canary-1", "cancanary-1"} {
		if re.MatchString(s) {
			t.Errorf("lacking matched %q, which holds the canary", s)
		}
	}
}

func storedSecret(env *testEnv, project, name, value string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sec, err := env.Store.GetSecret(context.Background(), project, name, "test")
		if err != nil {
			return err
		}
		if string(sec.Value) != value {
			return fmt.Errorf("stored value of %s/%s is not the configured one (%d bytes, want %d)", project, name, len(sec.Value), len(value))
		}
		return nil
	}
}

func storedCategory(env *testEnv, project, name, category string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		meta, err := env.Store.GetSecretMeta(context.Background(), project, name)
		if err != nil {
			return err
		}
		if meta.Category != category {
			return fmt.Errorf("stored category of %s/%s is %q, want %q", project, name, meta.Category, category)
		}
		return nil
	}
}

// The store gives a well-known name its catalog category when none is
// given, so an explicit empty one is refused at plan time, naming the
// category it would get, instead of failing the apply.
func TestAccProjectSecretEmptyCategoryForCatalogNameRefusedAtPlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      secretInSupport(env, "SLACK_BOT_TOKEN", "xoxb-123-456-AbC", `  category = ""`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Empty category for SLACK_BOT_TOKEN.*catalog's, "slack".*Remove category`),
			},
			{
				// Outside the catalog, "" is a category like any other.
				Config: secretInSupport(env, "SESSION_KEY", "s3cr3t", `  category = ""`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(supportAddr, tfjsonpath.New("category"), knownvalue.StringExact("")),
				},
			},
		},
	})
}

// A value unknown at plan time (here another resource's output) is
// checked when it is written, by the store's write policy, with the same
// way out.
func TestAccProjectSecretWrongShapeKnownOnlyAtApplyRefused(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	config := env.ProviderConfig() + `
resource "terraform_data" "token" {
  input = "not-a-slack-token"
}

resource "pgsecrets_project_secret" "support" {
  project = "support"
  name    = "SLACK_BOT_TOKEN"
  value   = terraform_data.token.output
}
`
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Value does not fit SLACK_BOT_TOKEN.*set validate = false to store it\s+anyway`),
		}},
	})
}

// sessionKeyFrom is billing/SESSION_KEY, outside the catalog, with its
// value, or value_wo, from a sensitive variable: Terraform's own error
// snippets then show `var.v`, never the value.
func sessionKeyFrom(env *testEnv, writeOnly bool) string {
	value, ephemeral := "value    = var.v", ""
	if writeOnly {
		value, ephemeral = "value_wo = var.v\n  value_wo_version = 1", "ephemeral = true"
	}
	return env.ProviderConfig() + `
variable "v" {
  type      = string
  sensitive = true
  ` + ephemeral + `
}

resource "pgsecrets_project_secret" "session" {
  project  = "billing"
  name     = "SESSION_KEY"
  ` + value + `
}
`
}

// invalidValue matches the error Terraform prints for a refused value,
// whose detail is the store's message, wrapped at any space.
func invalidValue(value string) *regexp.Regexp {
	words := strings.Fields(store.ValidateValue("billing", "SESSION_KEY", value).Error())
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(`(?s)Error: Invalid secret value.*` + strings.Join(words, `\s+`))
}

// An empty value and one over 1 MiB fail `terraform plan`, for value and
// value_wo, with the store's words (those of every other writer), and the
// output never holds the value. A value known only at apply is refused
// by the store the same way. Nothing is written.
func TestAccProjectSecretEmptyOrOversizedValueRefusedAtPlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	const canary = "canary-9f2e-oversized-"
	tooBig := strings.Repeat(canary, store.MaxValueBytes/len(canary)+1)[:store.MaxValueBytes+1]
	var steps []resource.TestStep
	for _, writeOnly := range []bool{false, true} {
		for _, value := range []string{"", tooBig} {
			vars := config.Variables{"v": config.StringVariable(value)}
			refused := invalidValue(value)
			steps = append(steps,
				resource.TestStep{Config: sessionKeyFrom(env, writeOnly), ConfigVariables: vars, PlanOnly: true, ExpectError: refused},
				resource.TestStep{Config: sessionKeyFrom(env, writeOnly), ConfigVariables: vars, PlanOnly: true, ExpectError: lacking(canary)},
			)
		}
	}
	steps = append(steps, resource.TestStep{
		Config: env.ProviderConfig() + `
resource "terraform_data" "empty" {
  input = ""
}

resource "pgsecrets_project_secret" "session" {
  project = "billing"
  name    = "SESSION_KEY"
  value   = terraform_data.empty.output
}
`,
		ExpectError: invalidValue(""),
	})
	accTest(t, resource.TestCase{Steps: steps})
	if _, err := env.Store.GetSecretMeta(context.Background(), "billing", "SESSION_KEY"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused value was written: %v", err)
	}
}
