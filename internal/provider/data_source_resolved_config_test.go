package provider

import (
	"context"
	"regexp"
	"strings"
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
	t.Setenv("APP_ACC_LOCAL_TOKEN", "token-from-environment")

	config := func(envFallback bool) string {
		return env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = ` + map[bool]string{true: "true", false: "false"}[envFallback] + `
  config = jsonencode({
    port = 8080
    providers = [
      { name = "openai", apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") },
      { name = "local", apiKey = { "$secretRef" = { name = "APP_ACC_LOCAL_TOKEN" } } },
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
					knownvalue.StringExact("APP_ACC_LOCAL_TOKEN"), knownvalue.StringExact("LOG_LEVEL"), knownvalue.StringExact("OPENAI_API_KEY"),
				})),
				statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("sources"), knownvalue.MapExact(map[string]knownvalue.Check{
					"LOG_LEVEL":           knownvalue.StringExact("default"),
					"OPENAI_API_KEY":      knownvalue.StringExact("database"),
					"APP_ACC_LOCAL_TOKEN": knownvalue.StringExact("environment"),
				})),
			},
		},
		{
			// The environment is opt-in: without it the variable is ignored.
			Config:      config(false),
			ExpectError: regexp.MustCompile(`"APP_ACC_LOCAL_TOKEN" at\s+\$\.providers\[1\]\.apiKey`),
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

// phrase matches text as Terraform prints it in a diagnostic, where any
// space may have become a line break.
func phrase(text string) string {
	return strings.Join(strings.Fields(regexp.QuoteMeta(text)), `\s+`)
}

// The attack: with env_fallback on, a config naming pgsecrets' own settings
// would copy the root keys and database passwords into its rendered value,
// hence into state. Such names never come from the environment.
func TestAccResolvedConfigEnvFallbackNeverReadsSettings(t *testing.T) {
	env := newTestEnv(t)
	const canaryPassword = "~canary-pw-71d3"
	t.Setenv("PGSECRETS_ROOT_KEYS", env.RootKeys)
	t.Setenv("PGSECRETS_DATABASE_URL", env.DatabaseURL)
	t.Setenv("DATABASE_URL", "postgres://app:"+canaryPassword+"@db.example/app")
	t.Setenv("PGPASSWORD", canaryPassword) // ignored by the test server's trust authentication
	config := env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config = jsonencode({
    keys = provider::pgsecrets::secret_ref("PGSECRETS_ROOT_KEYS")
    db   = provider::pgsecrets::secret_ref("PGSECRETS_DATABASE_URL")
    url  = provider::pgsecrets::secret_ref("DATABASE_URL")
    pw   = provider::pgsecrets::secret_ref("PGPASSWORD")
    tf   = provider::pgsecrets::secret_ref("TF_ACC")
  })
}
`
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			Config: config,
			ExpectError: regexp.MustCompile(`(?s)Referenced secrets not found.*` +
				phrase(`"DATABASE_URL" at $.url (it may not come from the environment: DATABASE_URL is a database URL pgsecrets may connect with, password included);`) + `.*` +
				phrase(`"PGPASSWORD" at $.pw (it may not come from the environment: names starting with PG are PostgreSQL connection settings (libpq), such as PGPASSWORD);`) + `.*` +
				phrase(`"PGSECRETS_DATABASE_URL" at $.db (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings, such as its root keys and database URL);`) + `.*` +
				phrase(`"PGSECRETS_ROOT_KEYS" at $.keys (it may not come`) + `.*` +
				phrase(`"TF_ACC" at $.tf (it may not come from the environment: names starting with TF_ are Terraform's settings`) + `.*` +
				phrase(`create them or give the references a "default"`)),
		},
		{Config: config, ExpectError: lacking(canaryPassword)},
	}})
}

func TestAccResolvedConfigEnvAllowLimitsTheEnvironment(t *testing.T) {
	env := newTestEnv(t)
	seedSecrets(t, env, "app", map[string]string{"DATABASE_URL": "url-from-database"})
	t.Setenv("APP_ACC_ALLOWED", "allowed-from-environment")
	t.Setenv("OTHER_ACC_TOKEN", "refused-from-environment")
	t.Setenv("PGSECRETS_ROOT_KEYS", env.RootKeys)
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  env_allow    = ["APP_ACC_*", "PGSECRETS_ROOT_KEYS"]
  config = jsonencode({
    allowed = provider::pgsecrets::secret_ref("APP_ACC_ALLOWED")
    other   = provider::pgsecrets::secret_ref("OTHER_ACC_TOKEN", "other-default")
    keys    = provider::pgsecrets::secret_ref("PGSECRETS_ROOT_KEYS", "keys-default")
    url     = provider::pgsecrets::secret_ref("DATABASE_URL")
  })
}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("rendered"), knownvalue.StringExact(
				`{"allowed":"allowed-from-environment","keys":"keys-default","other":"other-default","url":"url-from-database"}`)),
			statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("sources"), knownvalue.MapExact(map[string]knownvalue.Check{
				"APP_ACC_ALLOWED":     knownvalue.StringExact("environment"),
				"DATABASE_URL":        knownvalue.StringExact("database"),
				"OTHER_ACC_TOKEN":     knownvalue.StringExact("default"),
				"PGSECRETS_ROOT_KEYS": knownvalue.StringExact("default"),
			})),
			statecheck.ExpectKnownValue(resolvedAddr, tfjsonpath.New("env_allow"), knownvalue.ListExact([]knownvalue.Check{
				knownvalue.StringExact("APP_ACC_*"), knownvalue.StringExact("PGSECRETS_ROOT_KEYS"),
			})),
		},
	}}})
}

func TestAccResolvedConfigEnvAllowMistakesFailValidation(t *testing.T) {
	env := newTestEnv(t)
	config := func(attributes string) string {
		return env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project = "app"
  config  = jsonencode({ a = provider::pgsecrets::secret_ref("APP_TOKEN") })
` + attributes + `
}
`
	}
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			Config:      config(`env_allow = ["APP_*"]`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)env_allow without env_fallback.*` + phrase("env_allow limits the environment fallback, which is off: set env_fallback = true, or remove env_allow.")),
		},
		{
			Config:      config("env_fallback = false\nenv_allow = [\"APP_*\"]"),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`env_allow without env_fallback`),
		},
		{
			Config:      config("env_fallback = true\nenv_allow = [\"APP_*\", \"A*B\"]"),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid env_allow.*` + phrase(`environment allow-list entry "A*B" has a * before its end; only a trailing * is supported, as a prefix (APP_*)`)),
		},
	}})
}

// A hostile config of nested brackets fails validation quickly, naming the
// limit, instead of costing the plan gigabytes.
func TestAccResolvedConfigDeepNestingFailsValidation(t *testing.T) {
	env := newTestEnv(t)
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "pgsecrets_resolved_config" "app" {
  project = "app"
  config  = "` + strings.Repeat("[", 40000) + `"
}
`,
		PlanOnly:    true,
		ExpectError: regexp.MustCompile(`(?s)Invalid config.*` + phrase("config nests objects and arrays deeper than the limit of 256 levels, at byte 256")),
	}}})
}
