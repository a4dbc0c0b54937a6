package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// seedSecrets writes secrets out of band, as `pgsecrets secret add` would.
func seedSecrets(t *testing.T, env *testEnv, project string, values map[string]string) {
	t.Helper()
	for name, value := range values {
		_, err := env.Store.PutSecret(context.Background(), store.PutSecretInput{
			Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.MustNotExist,
		})
		if err != nil {
			t.Fatalf("seed secret %s/%s: %v", project, name, err)
		}
	}
}

const resolvedAddr = "data.pgsecrets_resolved_config.app"

func TestAccResolvedConfigResolvesFromDatabaseEnvironmentAndDefault(t *testing.T) {
	env := newTestEnv(t)
	seedSecrets(t, env, "app", map[string]string{"OPENAI_API_KEY": "sk-from-database"})
	t.Setenv("PGSECRETS_ACC_LOCAL_TOKEN", "token-from-environment")

	config := func(envFallback bool) string {
		return env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = ` + map[bool]string{true: "true", false: "false"}[envFallback] + `
  config = jsonencode({
    port = 8080
    providers = [
      { name = "openai", apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") },
      { name = "local", apiKey = { "$secretRef" = { name = "PGSECRETS_ACC_LOCAL_TOKEN" } } },
    ]
    logLevel = provider::pgsecrets::secret_ref("LOG_LEVEL", "info")
  })
}
`
	}
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			Config: config(true),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("rendered"), knownvalue.StringExact(
					`{"logLevel":"info","port":8080,"providers":[{"apiKey":"sk-from-database","name":"openai"},{"apiKey":"token-from-environment","name":"local"}]}`)),
				statecheck.ExpectSensitiveValue(resolvedAddr, tfjsonpath.New("rendered")),
				statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("references"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("LOG_LEVEL"), knownvalue.StringExact("OPENAI_API_KEY"), knownvalue.StringExact("PGSECRETS_ACC_LOCAL_TOKEN"),
				})),
				statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("sources"), knownvalue.MapExact(map[string]knownvalue.Check{
					"LOG_LEVEL":                 knownvalue.StringExact("default"),
					"OPENAI_API_KEY":            knownvalue.StringExact("database"),
					"PGSECRETS_ACC_LOCAL_TOKEN": knownvalue.StringExact("environment"),
				})),
			},
		},
		{
			// The environment is opt-in: without it the variable is ignored.
			Config:      config(false),
			ExpectError: regexp.MustCompile(`"PGSECRETS_ACC_LOCAL_TOKEN" at\s+\$\.providers\[1\]\.apiKey`),
		},
	}})
}

func TestAccResolvedConfigMissingSecretsListedWithPaths(t *testing.T) {
	env := newTestEnv(t)
	seedSecrets(t, env, "app", map[string]string{"PRESENT": "present-value"})
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project = "app"
  config = jsonencode({
    a       = provider::pgsecrets::secret_ref("PRESENT")
    b       = provider::pgsecrets::secret_ref("MISSING_ONE")
    hooks   = [provider::pgsecrets::secret_ref("MISSING_TWO"), provider::pgsecrets::secret_ref("MISSING_ONE")]
  })
}
`,
		ExpectError: regexp.MustCompile(`(?s)Referenced secrets not found.*In project "app": 2 referenced secrets not found in\s+the\s+database\s+and\s+without\s+a\s+default:\s+"MISSING_ONE"\s+at\s+\$\.b,\s+\$\.hooks\[1\];\s+"MISSING_TWO"\s+at\s+\$\.hooks\[0\]`),
	}}})
}

func TestAccResolvedConfigMalformedReferenceFailsValidation(t *testing.T) {
	env := newTestEnv(t)
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project = "app"
  config  = jsonencode({ providers = [{ apiKey = { "$secretRef" = { nmae = "OPENAI_API_KEY" } } }] })
}
`,
		PlanOnly:    true,
		ExpectError: regexp.MustCompile(`\$\.providers\[0\]\.apiKey:\s+unknown\s+key\s+"nmae"\s+in\s+"\$secretRef"`),
	}}})
}
