package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// The Terraform quick start, exactly as examples/quickstart has it, keeps
// out of state what it says it does: the ephemeral OpenAI key written
// through value_wo, and the rendered configuration from the ephemeral
// resolved config (which the application still finds, as APP_CONFIG). Its
// destroy leaves nothing behind: no secret, no history, no key (it asks
// for the shred).
func TestAccQuickstartKeepsItsWriteOnlyAndEphemeralValuesOutOfState(t *testing.T) {
	env := newTestEnv(t)
	config, err := os.ReadFile("../../examples/quickstart/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	// The terraform block pins the version `make install-provider` builds,
	// which a provider served by the test has none of; the rest is the
	// quick start as a user copies it.
	start := strings.Index(string(config), "terraform {")
	end := strings.Index(string(config)[start:], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("examples/quickstart/main.tf has no terraform block")
	}
	config = append(config[:start:start], config[start+end+3:]...)
	// The quick start takes its settings from the environment.
	t.Setenv("PGSECRETS_DATABASE_URL", env.DatabaseURL)
	t.Setenv("PGSECRETS_ROOT_KEYS", env.RootKeys)
	t.Setenv("PGSECRETS_SCHEMA", env.Schema)
	const openAIKey = "sk-proj-quickstart-0000000000000000"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: string(config),
			Check: resource.ComposeTestCheckFunc(
				stateLacks(openAIKey),
				outputsLack(openAIKey),
				stateLacks("signingSecret"), // the rendered configuration
				outputsLack("signingSecret"),
				func(*terraform.State) error {
					sec, err := env.Store.GetSecret(context.Background(), "chat-service", "APP_CONFIG", "test")
					if err != nil {
						return err
					}
					if !strings.Contains(string(sec.Value), `"apiKey":"`+openAIKey+`"`) || !strings.Contains(string(sec.Value), `"logLevel":"info"`) {
						return fmt.Errorf("APP_CONFIG does not hold the resolved configuration")
					}
					return nil
				},
			),
		}},
		CheckDestroy: func(*terraform.State) error {
			var left string
			err := env.pool.QueryRow(context.Background(), `select concat_ws(' ',
				(select count(*) from secrets), (select count(*) from secret_versions),
				(select count(*) from encryption_keys), (select count(*) from project_keys))`).Scan(&left)
			if err != nil {
				return err
			}
			if left != "0 0 0 0" {
				return fmt.Errorf("after destroy, secrets, versions, data keys and project keys = %s, want none", left)
			}
			return nil
		},
	})
}

// outputsLack fails when an output of the state holds text.
func outputsLack(text string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, m := range s.Modules {
			for name, o := range m.Outputs {
				if strings.Contains(fmt.Sprint(o.Value), text) {
					return &leakError{where: "output." + name}
				}
			}
		}
		return nil
	}
}
