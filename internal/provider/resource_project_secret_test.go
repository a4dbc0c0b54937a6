package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

const secretAddr = "pgsecrets_project_secret.api"

func secretWithValue(env *testEnv, value, description string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "api" {
  project     = "billing"
  name        = "STRIPE_KEY"
  value       = %s
  description = %s
  category    = "payments"
}
`, hclString(value), hclString(description))
}

func secretWithWriteOnly(env *testEnv, value string, version int) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "api" {
  project          = "billing"
  name             = "STRIPE_KEY"
  value_wo         = %s
  value_wo_version = %d
}
`, hclString(value), version)
}

// storedValue checks the database holds value for billing/STRIPE_KEY.
func storedValue(env *testEnv, value string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sec, err := env.Store.GetSecret(context.Background(), "billing", "STRIPE_KEY", "test")
		if err != nil {
			return err
		}
		if string(sec.Value) != value {
			return fmt.Errorf("stored value is not the configured one (%d bytes, want %d)", len(sec.Value), len(value))
		}
		return nil
	}
}

func secretGone(env *testEnv) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := env.Store.GetSecretMeta(context.Background(), "billing", "STRIPE_KEY")
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("secret billing/STRIPE_KEY still exists after destroy (err %v)", err)
		}
		return nil
	}
}

func TestAccProjectSecretCreateUpdateImportDestroy(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		CheckDestroy: secretGone(env),
		Steps: []resource.TestStep{
			{
				Config: secretWithValue(env, "sk_live_one", "Stripe API key"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("id"), knownvalue.StringExact("billing/STRIPE_KEY")),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("kid"), projectKIDIs{env, "billing"}),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("category"), knownvalue.StringExact("payments")),
					statecheck.ExpectSensitiveValue(secretAddr, tfjsonpath.New("value")),
				},
				Check: storedValue(env, "sk_live_one"),
			},
			{
				Config: secretWithValue(env, "sk_live_two", "Stripe API key, rotated"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("description"), knownvalue.StringExact("Stripe API key, rotated")),
				},
				Check: storedValue(env, "sk_live_two"),
			},
			{
				// terraform import reads the value into state: all of it,
				// value included, matches.
				ResourceName:      secretAddr,
				ImportState:       true,
				ImportStateId:     "billing/STRIPE_KEY",
				ImportStateVerify: true,
			},
			{
				// An import block, as Terraform 1.5+ users write it: the
				// import has nothing to change (the harness requires a
				// no-op unless told otherwise).
				ResourceName:    secretAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "billing/STRIPE_KEY",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionNoop)},
				},
			},
		},
	})
}

func TestAccProjectSecretImportRejectsMalformedID(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: secretWithValue(env, "v", "")},
			{
				ResourceName:  secretAddr,
				ImportState:   true,
				ImportStateId: "billing-STRIPE_KEY",
				ExpectError:   regexp.MustCompile(`expected project/name`),
			},
		},
	})
}

func TestAccProjectSecretNeedsExactlyOneValue(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	both := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "api" {
  project          = "billing"
  name             = "STRIPE_KEY"
  value            = "a"
  value_wo         = "b"
  value_wo_version = 1
}
`
	neither := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "api" {
  project = "billing"
  name    = "STRIPE_KEY"
}
`
	noVersion := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "api" {
  project  = "billing"
  name     = "STRIPE_KEY"
  value_wo = "b"
}
`
	versionWithValue := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "api" {
  project          = "billing"
  name             = "STRIPE_KEY"
  value            = "a"
  value_wo_version = 1
}
`
	badName := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "api" {
  project = "billing"
  name    = "STRIPE KEY"
  value   = "a"
}
`
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: both, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Conflicting secret values.*Set either value.*or value_wo`)},
			{Config: neither, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Missing secret value.*Set value, or value_wo with value_wo_version`)},
			{Config: noVersion, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Missing value_wo_version.*Start with\s+value_wo_version = 1`)},
			{Config: versionWithValue, PlanOnly: true, ExpectError: regexp.MustCompile(`value_wo_version without value_wo`)},
			{Config: badName, PlanOnly: true, ExpectError: regexp.MustCompile(`secret name "STRIPE KEY" is not valid`)},
		},
	})
}

func TestAccProjectSecretCreateRefusesExistingSecretAndSaysImport(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("billing", "STRIPE_KEY", "from the CLI")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      secretWithValue(env, "from terraform", ""),
				ExpectError: regexp.MustCompile(`(?s)already exists.*import.*"billing/STRIPE_KEY"`),
			},
			{
				// With value_wo, the ID that keeps the value out of state.
				Config:      secretWithWriteOnly(env, "from terraform", 1),
				ExpectError: regexp.MustCompile(`(?s)already exists.*import.*"billing/STRIPE_KEY:write-only"`),
			},
		},
	})
}

// An apply whose connection was lost after a create committed (a
// failover) is run again: the create finds the secret holding exactly
// what it would write, takes it over instead of asking for an import, and
// writes nothing, so the apply converges with the secret written once.
// The earlier apply is this provider's, under its actor: only a write of
// the same actor counts as done (another actor's is a conflict).
func TestAccProjectSecretCreateTakesOverTheSameSecretAnEarlierApplyWrote(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	earlierApply := env.Store.WithActor(settings.Actor("", terraformActorPrefix))
	if _, err := earlierApply.PutSecret(context.Background(), store.PutSecretInput{
		Project: "billing", Name: "STRIPE_KEY", Value: []byte("sk_live_same"), Description: "stripe", Category: "payments", ExpectedRevision: store.MustNotExist,
	}); err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: secretWithValue(env, "sk_live_same", "stripe"),
			Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr("pgsecrets_project_secret.api", "revision", "1"),
				func(*terraform.State) error {
					versions, err := env.Store.SecretHistory(context.Background(), "billing", "STRIPE_KEY")
					if err != nil || len(versions) != 1 {
						return fmt.Errorf("history: %d revisions (%v), want 1: the create wrote again", len(versions), err)
					}
					return nil
				},
			),
		}},
	})
}

// Every write increments the revision, and Read compares it: an
// out-of-band write, by SQL here, shows as a change of value in the plan,
// and apply puts the configured value back.
func TestAccProjectSecretValueChangedBySQLShowsInPlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	config := secretWithValue(env, "configured", "")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { env.sqlRewriteSecret("billing", "STRIPE_KEY", "changed by hand") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedValue(env, "configured"),
			},
			{
				PreConfig: func() { env.Exec("delete from secrets where project = 'billing' and name = 'STRIPE_KEY'") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionCreate)},
				},
				Check: storedValue(env, "configured"),
			},
			{
				// A rewrite of the same value is no drift.
				PreConfig: func() { env.putSecret("billing", "STRIPE_KEY", "configured") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// With value_wo state holds no value, so drift is a revision other than
// the one Terraform applied (kept in private state).
func TestAccProjectSecretWriteOnlyRewrittenAfterOutOfBandWrite(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	config := secretWithWriteOnly(env, "configured", 1)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config, Check: storedValue(env, "configured")},
			{
				PreConfig: func() { env.putSecret("billing", "STRIPE_KEY", "written by the CLI") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedValue(env, "configured"),
			},
			{
				PreConfig: func() { env.sqlRewriteSecret("billing", "STRIPE_KEY", "written by SQL") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedValue(env, "configured"),
			},
			{
				PreConfig: func() { env.Exec("delete from secrets where project = 'billing' and name = 'STRIPE_KEY'") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionCreate)},
				},
				Check: storedValue(env, "configured"),
			},
		},
	})
}

// The on-disk state (and its backups) never contains a value_wo, and a
// new value_wo_version writes the new value.
func TestAccProjectSecretWriteOnlyValueNeverInStateFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp) // so the working directory can be searched
	env := newTestEnv(t)
	const canary1, canary2 = "canary-wo-7f3e9a1c", "canary-wo-b24d6e08"
	accTest(t, resource.TestCase{
		CheckDestroy: secretGone(env),
		Steps: []resource.TestStep{
			{
				Config: secretWithWriteOnly(env, canary1, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("value"), knownvalue.Null()),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedValue(env, canary1), stateFilesLack(tmp, canary1)),
			},
			{
				// Same version, other value: Terraform cannot see it, no change.
				Config: secretWithWriteOnly(env, canary2, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: storedValue(env, canary1),
			},
			{
				Config: secretWithWriteOnly(env, canary2, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedValue(env, canary2), stateFilesLack(tmp, canary1, canary2)),
			},
			{
				ResourceName:            secretAddr,
				ImportState:             true,
				ImportStateId:           "billing/STRIPE_KEY" + writeOnlyImportSuffix,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"value_wo_version"},
				ImportStateCheck: func([]*terraform.InstanceState) error {
					return stateFilesLack(tmp, canary1, canary2)(nil)
				},
			},
		},
	})
}

// A TF_LOG=trace run (Terraform core and the provider) never logs a
// secret value, given as value or as value_wo, nor root or project key
// material, before or after a rotation of the project's key; neither
// value_wo nor a project key reaches the state file. The
// values come in through variables, as in real use: the test harness logs
// each step's configuration text itself.
func TestAccTraceLogHasNoSecretValueNorKeyMaterial(t *testing.T) {
	tmp := t.TempDir()
	logFile := filepath.Join(tmp, "terraform.log")
	t.Setenv("TF_ACC_LOG_PATH", logFile) // trace level, core and provider
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	env := newTestEnv(t)
	const canaryValue, canaryWO = "canary-value-0c5d2e71", "canary-wo-91ab44f3"
	t.Setenv("TF_VAR_root_keys", env.RootKeys)
	config := func(version int) string {
		return fmt.Sprintf(`
variable "root_keys" {
  type      = string
  sensitive = true
}

variable "plain" {
  type      = string
  sensitive = true
}

variable "wo" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "pgsecrets" {
  database_url = %s
  root_keys    = var.root_keys
  schema       = %s
}

resource "pgsecrets_project_key" "k" {
  project             = "billing"
  rotate_when_changed = { round = "%[3]d" }
}

resource "pgsecrets_project_secret" "plain" {
  project    = "billing"
  name       = "PLAIN"
  value      = var.plain
  depends_on = [pgsecrets_project_key.k]
}

resource "pgsecrets_project_secret" "wo" {
  project          = "billing"
  name             = "WRITE_ONLY"
  value_wo         = var.wo
  value_wo_version = %[3]d
  depends_on       = [pgsecrets_project_key.k]
}
`, hclString(env.DatabaseURL), hclString(env.Schema), version)
	}
	setValues := func(suffix string) {
		t.Setenv("TF_VAR_plain", canaryValue+suffix)
		t.Setenv("TF_VAR_wo", canaryWO+suffix)
	}
	setValues("")
	var dataKey, rotatedKey string
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config(1),
				Check: func(s *terraform.State) error {
					dataKey = env.projectKeyMaterial("billing", "PLAIN")
					// Control: the scan does see state, where `value` is kept.
					if err := stateFilesContain(tmp, canaryValue); err != nil {
						return err
					}
					return stateFilesLack(tmp, canaryWO, dataKey, env.rootKeyMaterial())(s)
				},
			},
			{
				// Out-of-band changes make refresh decrypt (value) and
				// plan a rewrite (value_wo).
				PreConfig: func() {
					env.putSecret("billing", "PLAIN", canaryValue+"-cli")
					env.putSecret("billing", "WRITE_ONLY", canaryWO+"-cli")
					setValues("-2")
				},
				Config: config(2),
				Check: func(s *terraform.State) error {
					sec, err := env.Store.GetSecret(context.Background(), "billing", "WRITE_ONLY", "test")
					if err != nil || string(sec.Value) != canaryWO+"-2" {
						return fmt.Errorf("value_wo was not written (err %v)", err)
					}
					rotatedKey = env.projectKeyMaterial("billing", "PLAIN")
					if rotatedKey == dataKey {
						return fmt.Errorf("the project key did not rotate")
					}
					return stateFilesLack(tmp, canaryWO, dataKey, rotatedKey, env.rootKeyMaterial())(s)
				},
			},
		},
	})
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("read trace log: %v", err)
	}
	if !strings.Contains(string(log), "pgsecrets_project_secret") || !strings.Contains(string(log), "[TRACE]") {
		t.Fatalf("trace log %s has no trace of the provider (%d bytes); the test does not prove anything", logFile, len(log))
	}
	for _, canary := range []string{canaryValue, canaryWO, env.rootKeyMaterial(), dataKey, rotatedKey} {
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, canary) {
				t.Errorf("trace log contains a secret (%.12s...): %.300s", canary, line)
			}
		}
	}
}

// stateFilesLack checks every file under dir (Terraform's working
// directories: state, backups, plans) for the canaries.
func stateFilesLack(dir string, canaries ...string) resource.TestCheckFunc {
	return func(*terraform.State) error { return filesLack(dir, ".tfstate", canaries...) }
}

// filesLack checks every file under dir for the canaries, and that some
// file's name contains mustFind (".tfstate", "tfplan"), without which the
// check proves nothing.
func filesLack(dir, mustFind string, canaries ...string) error {
	found := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), mustFind) {
			found++
		}
		if strings.HasSuffix(d.Name(), ".tf") || strings.HasSuffix(d.Name(), ".log") ||
			strings.Contains(path, string(filepath.Separator)+".terraform"+string(filepath.Separator)) {
			return nil // the configuration itself, logs (checked apart), plugins
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if strings.Contains(string(b), c) {
				return fmt.Errorf("%s contains a write-only value", path)
			}
		}
		return nil
	})
	if err == nil && found == 0 {
		err = fmt.Errorf("no %s file found under %s; the check does not prove anything", mustFind, dir)
	}
	return err
}

// stateFilesContain checks that some state file under dir holds want.
func stateFilesContain(dir, want string) error {
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".tfstate") {
			return err
		}
		b, err := os.ReadFile(path)
		found = found || strings.Contains(string(b), want)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("no state file under %s holds the control value; the state scan proves nothing", dir)
	}
	return err
}

// putSecret writes a secret's value as the CLI would, keeping its
// description and category.
func (e *testEnv) putSecret(project, name, value string) {
	e.t.Helper()
	in := store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}
	if meta, err := e.Store.GetSecretMeta(context.Background(), project, name); err == nil {
		in.Description, in.Category = meta.Description, meta.Category
	}
	_, err := e.Store.PutSecret(context.Background(), in)
	if err != nil {
		e.t.Fatalf("put secret %s/%s: %v", project, name, err)
	}
}

// sqlRewriteSecret changes a secret's value with plain SQL, as another
// tool sharing the database would: a new ciphertext and the next revision.
func (e *testEnv) sqlRewriteSecret(project, name, value string) {
	e.t.Helper()
	meta, err := e.Store.GetSecretMeta(context.Background(), project, name)
	if err != nil {
		e.t.Fatal(err)
	}
	token, kid, err := e.Store.Keyring().Encrypt([]byte(value), keyring.SecretBinding(project, name, meta.Revision+1))
	if err != nil {
		e.t.Fatalf("encrypt: %v", err)
	}
	e.Exec("update secrets set ciphertext = $3, kid = $4, revision = revision + 1, updated_at = now() where project = $1 and name = $2",
		project, name, token, kid)
}

func (e *testEnv) rootKID() string { return e.Store.Keyring().RootKey().KID }

// An update plans against the revision refreshed at plan time; a write
// made between plan and apply is reported, not overwritten.
func TestProjectSecretUpdateRefusesWriteMadeSincePlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.putSecret("billing", "STRIPE_KEY", "v1")
	planned, err := env.Store.GetSecretMeta(context.Background(), "billing", "STRIPE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	env.putSecret("billing", "STRIPE_KEY", "written meanwhile") // revision 2

	ctx := context.Background()
	r := &projectSecretResource{data: &providerData{store: env.Store}}
	var sresp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sresp)
	null := tftypes.NewValue(sresp.Schema.Type().TerraformType(ctx), nil)

	state := projectSecretModel{Value: types.StringValue("v1"), ValueWOVersion: types.Int64Null()}
	state.setMeta(planned)
	plan := state
	plan.Value = types.StringValue("from terraform")
	build := func(m projectSecretModel) tftypes.Value {
		st := tfsdk.State{Schema: sresp.Schema, Raw: null}
		if diags := st.Set(ctx, &m); diags.HasError() {
			t.Fatalf("build state: %v", diags)
		}
		return st.Raw
	}
	req := fwresource.UpdateRequest{
		Config: tfsdk.Config{Schema: sresp.Schema, Raw: build(plan)},
		Plan:   tfsdk.Plan{Schema: sresp.Schema, Raw: build(plan)},
		State:  tfsdk.State{Schema: sresp.Schema, Raw: build(state)},
	}
	resp := fwresource.UpdateResponse{State: tfsdk.State{Schema: sresp.Schema, Raw: build(state)}}
	r.Update(ctx, req, &resp)

	got := diagText(resp.Diagnostics)
	for _, want := range []string{"Secret changed since the plan", "expected revision 1, found 2", "Nothing was written", "terraform apply"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
	sec, err := env.Store.GetSecret(ctx, "billing", "STRIPE_KEY", "test")
	if err != nil || string(sec.Value) != "written meanwhile" {
		t.Errorf("the concurrent write was overwritten (err %v)", err)
	}
}
