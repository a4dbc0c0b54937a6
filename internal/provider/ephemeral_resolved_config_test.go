package provider

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccEphemeralResolvedConfigRendersOutsideState(t *testing.T) {
	env := newTestEnv(t)
	const canary = "canary-ephemeral-config-81c2"
	seedSecrets(t, env, "app", map[string]string{"OPENAI_API_KEY": canary})
	t.Setenv("APP_ACC_EPHEMERAL_ENV", "from-env")
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
ephemeral "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config = jsonencode({
    openai = { apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") }
    region = provider::pgsecrets::secret_ref("APP_ACC_EPHEMERAL_ENV")
    model  = provider::pgsecrets::secret_ref("MODEL", "gpt-4o")
  })
}

provider "echo" {
  data = {
    matches    = ephemeral.pgsecrets_resolved_config.app.rendered == jsonencode({ model = "gpt-4o", openai = { apiKey = "` + canary + `" }, region = "from-env" })
    references = ephemeral.pgsecrets_resolved_config.app.references
    sources    = ephemeral.pgsecrets_resolved_config.app.sources
  }
}

resource "echo" "seen" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("echo.seen", tfjsonpath.New("data"), knownvalue.ObjectExact(map[string]knownvalue.Check{
				"matches": knownvalue.Bool(true),
				"references": knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("APP_ACC_EPHEMERAL_ENV"), knownvalue.StringExact("MODEL"), knownvalue.StringExact("OPENAI_API_KEY"),
				}),
				"sources": knownvalue.MapExact(map[string]knownvalue.Check{
					"MODEL":                 knownvalue.StringExact("default"),
					"OPENAI_API_KEY":        knownvalue.StringExact("database"),
					"APP_ACC_EPHEMERAL_ENV": knownvalue.StringExact("environment"),
				}),
			})),
		},
		Check: stateLacks(canary),
	}}}))
}

// A TF_LOG=trace run (Terraform core and the provider) that resolves
// configs and reads a secret, through the data source and both ephemeral
// resources, never logs a value.
func TestAccReadingSecretsTraceLogHasNoValue(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_ACC_LOG_PATH", logFile) // trace level, core and provider
	env := newTestEnv(t)
	const canaryDB, canaryEnv = "canary-read-db-5e7a01", "canary-read-env-c3d9f2"
	seedSecrets(t, env, "app", map[string]string{"FROM_DB": canaryDB})
	t.Setenv("APP_ACC_TRACE_FROM_ENV", canaryEnv)
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
locals {
  config = jsonencode({
    db  = provider::pgsecrets::secret_ref("FROM_DB")
    env = provider::pgsecrets::secret_ref("APP_ACC_TRACE_FROM_ENV")
  })
}

data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config       = local.config
}

ephemeral "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config       = local.config
}

ephemeral "pgsecrets_project_secret" "db" {
  project = "app"
  name    = "FROM_DB"
}

provider "echo" {
  data = [
    length(ephemeral.pgsecrets_resolved_config.app.rendered),
    length(ephemeral.pgsecrets_project_secret.db.value),
    length(data.pgsecrets_resolved_config.app.rendered),
  ]
}

resource "echo" "lengths" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("echo.lengths", tfjsonpath.New("data"), knownvalue.ListExact([]knownvalue.Check{
				knownvalue.Int64Exact(int64(len(`{"db":"` + canaryDB + `","env":"` + canaryEnv + `"}`))),
				knownvalue.Int64Exact(int64(len(canaryDB))),
				knownvalue.Int64Exact(int64(len(`{"db":"` + canaryDB + `","env":"` + canaryEnv + `"}`))),
			})),
		},
	}}}))
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("read trace log: %v", err)
	}
	if !strings.Contains(string(log), "pgsecrets_resolved_config") || !strings.Contains(string(log), "[TRACE]") {
		t.Fatalf("trace log %s has no trace of the provider (%d bytes); the test does not prove anything", logFile, len(log))
	}
	for _, line := range strings.Split(string(log), "\n") {
		for _, canary := range []string{canaryDB, canaryEnv} {
			if strings.Contains(line, canary) {
				t.Errorf("trace log contains a secret value (%.12s...): %.300s", canary, line)
			}
		}
	}
}

// The ephemeral resource applies the same environment policy: settings are
// never read, env_allow limits the rest.
func TestAccEphemeralResolvedConfigEnvironmentPolicy(t *testing.T) {
	env := newTestEnv(t)
	t.Setenv("PGSECRETS_ROOT_KEYS", env.RootKeys)
	t.Setenv("APP_ACC_ALLOWED", "allowed-from-environment")
	t.Setenv("OTHER_ACC_TOKEN", "refused-from-environment")
	config := func(refs string) string {
		return env.ProviderConfig() + `
ephemeral "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  env_allow    = ["APP_ACC_*"]
  config       = jsonencode({` + refs + `})
}

provider "echo" {
  data = {
    rendered = nonsensitive(ephemeral.pgsecrets_resolved_config.app.rendered)
    sources  = ephemeral.pgsecrets_resolved_config.app.sources
  }
}

resource "echo" "seen" {}
`
	}
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{
		{
			Config: config(`keys = provider::pgsecrets::secret_ref("PGSECRETS_ROOT_KEYS")`),
			ExpectError: regexp.MustCompile(`(?s)Referenced secrets not found.*` +
				phrase(`"PGSECRETS_ROOT_KEYS" at $.keys (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings, such as its root keys and database URL); create them or give the references a "default"`)),
		},
		{
			Config: config(`other = provider::pgsecrets::secret_ref("OTHER_ACC_TOKEN")`),
			ExpectError: regexp.MustCompile(`(?s)Referenced secrets not found.*` +
				phrase(`"OTHER_ACC_TOKEN" at $.other (it may not come from the environment: it matches no entry of the environment allow-list (APP_ACC_*))`)),
		},
		{
			// Last, so that the destroy at the end opens it without error.
			Config: config(`
    allowed = provider::pgsecrets::secret_ref("APP_ACC_ALLOWED")
    other   = provider::pgsecrets::secret_ref("OTHER_ACC_TOKEN", "other-default")`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.seen", tfjsonpath.New("data"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"rendered": knownvalue.StringExact(`{"allowed":"allowed-from-environment","other":"other-default"}`),
					"sources": knownvalue.MapExact(map[string]knownvalue.Check{
						"APP_ACC_ALLOWED": knownvalue.StringExact("environment"),
						"OTHER_ACC_TOKEN": knownvalue.StringExact("default"),
					}),
				})),
			},
		},
	}}))
}
