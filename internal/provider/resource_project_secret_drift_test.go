package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// A plan that writes the configured value over another operator's write
// names them and the time, for `value`: the value Terraform wrote comes
// back, and the next plan is quiet.
func TestAccProjectSecretPlanOverOutsideWriteNamesWhoWroteIt(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	alice := env.storeAs("alice@ops-1")
	warnings := &planWarnings{}
	config := secretWithValue(env, "configured", "")
	accTestRecordingWarnings(t, warnings, resource.TestCase{
		Steps: slices.Concat(
			[]resource.TestStep{{Config: config}},
			writtenOutsideSteps(t, env, warnings, alice, config, ""),
			[]resource.TestStep{{
				// Rewritten with the same value: nothing to write, nothing to
				// warn about.
				PreConfig: func() { warnings.reset(); putAs(t, alice, "billing", "STRIPE_KEY", "configured") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), notWarned(warnings, "changed outside Terraform")},
				},
			}},
		),
	})
}

// writtenOutsideSteps are a write of billing/STRIPE_KEY outside Terraform,
// by the store writer, then a plan that writes the configured value back
// with a warning naming the writer (and ending with note, when given),
// then a quiet plan.
func writtenOutsideSteps(t *testing.T, env *testEnv, warnings *planWarnings, writer *store.Store, config, note string) []resource.TestStep {
	var want string
	return []resource.TestStep{
		{
			PreConfig: func() {
				warnings.reset()
				putAs(t, writer, "billing", "STRIPE_KEY", "written by "+writer.Actor())
				meta, err := env.Store.GetSecretMeta(context.Background(), "billing", "STRIPE_KEY")
				if err != nil {
					t.Fatal(err)
				}
				want = fmt.Sprintf("billing/STRIPE_KEY was changed outside Terraform by %s at %s (revision 2; Terraform left it at revision 1); "+
					"this plan writes the configured value again.", writer.Actor(), meta.UpdatedAt.UTC().Format(time.RFC3339))
				if note != "" {
					want += " " + note
				}
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate),
					warned(warnings, func() string { return want }),
				},
			},
			Check: storedValue(env, "configured"),
		},
		{
			PreConfig: warnings.reset,
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), notWarned(warnings, "changed outside Terraform")},
			},
		},
	}
}

// For value_wo, whose drift is only a revision Terraform did not write,
// the warning names the writer from the row: here plain SQL as another
// tool writes it, with its own updated_by and updated_at.
func TestAccProjectSecretWriteOnlyPlanOverSQLWriteNamesWhoWroteIt(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	warnings := &planWarnings{}
	config := secretWithWriteOnly(env, "configured", 1)
	accTestRecordingWarnings(t, warnings, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					warnings.reset()
					env.sqlRewriteSecret("billing", "STRIPE_KEY", "written by SQL")
					env.Exec("update secrets set updated_by = 'alice@ops-1', updated_at = '2026-11-29T10:00:00Z' where project = 'billing' and name = 'STRIPE_KEY'")
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate),
						warned(warnings, func() string {
							return "billing/STRIPE_KEY was changed outside Terraform by alice@ops-1 at 2026-11-29T10:00:00Z (revision 2; Terraform left it at revision 1); " +
								"this plan writes the configured value again. To keep their value instead, put it in value_wo."
						}),
					},
				},
				Check: storedValue(env, "configured"),
			},
			{
				PreConfig: warnings.reset,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), notWarned(warnings, "changed outside Terraform")},
				},
			},
		},
	})
}

// storeAs opens a store on env's database that acts as actor, as another
// operator's CLI would.
func (e *testEnv) storeAs(actor string) *store.Store {
	e.t.Helper()
	ring, err := keyring.Load([]byte(e.RootKeys))
	if err != nil {
		e.t.Fatalf("load root keys: %v", err)
	}
	s, err := store.Open(context.Background(), store.Config{DatabaseURL: e.DatabaseURL, Schema: e.Schema, Actor: actor}, ring)
	if err != nil {
		e.t.Fatalf("open store as %s: %v", actor, err)
	}
	// Runs before newTestEnv's cleanups, so before the database goes.
	e.t.Cleanup(s.Close)
	return s
}

// putAs writes a secret's value through s, keeping its metadata, as
// `pgsecrets secret add` does on an existing secret.
func putAs(t *testing.T, s *store.Store, project, name, value string) {
	t.Helper()
	ctx := context.Background()
	meta, err := s.GetSecretMeta(ctx, project, name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PutSecret(ctx, store.PutSecretInput{
		Project: project, Name: name, Value: []byte(value),
		Description: meta.Description, Category: meta.Category, RequiresRestart: &meta.RequiresRestart,
		ExpectedRevision: store.AnyRevision,
	})
	if err != nil {
		t.Fatalf("put %s/%s: %v", project, name, err)
	}
}

// planWarnings collects the warnings the provider returns from plans.
// terraform-plugin-testing has no check on diagnostics, so the provider
// server is wrapped to see them.
type planWarnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *planWarnings) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = nil
}

func (w *planWarnings) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.seen, "\n")
}

// warningRecorder is the provider server, recording plan warnings.
type warningRecorder struct {
	tfprotov6.ProviderServer
	warnings *planWarnings
}

func (r *warningRecorder) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := r.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		r.record(resp.Diagnostics)
	}
	return resp, err
}

// ReadResource records refresh warnings too: a refresh is where the
// provider says what it could not compare.
func (r *warningRecorder) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := r.ProviderServer.ReadResource(ctx, req)
	if resp != nil {
		r.record(resp.Diagnostics)
	}
	return resp, err
}

func (r *warningRecorder) record(diags []*tfprotov6.Diagnostic) {
	r.warnings.mu.Lock()
	defer r.warnings.mu.Unlock()
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityWarning {
			r.warnings.seen = append(r.warnings.seen, d.Summary+": "+d.Detail)
		}
	}
}

// accTestRecordingWarnings is accTest with the provider server wrapped to
// record plan warnings.
func accTestRecordingWarnings(t *testing.T, warnings *planWarnings, tc resource.TestCase) {
	t.Helper()
	tc.ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
		"pgsecrets": func() (tfprotov6.ProviderServer, error) {
			s, err := testAccProtoV6ProviderFactories["pgsecrets"]()
			return &warningRecorder{ProviderServer: s, warnings: warnings}, err
		},
	}
	runAccTest(t, tc)
}

// warningCheck checks the warnings of the plan just made.
type warningCheck struct {
	warnings *planWarnings
	want     func() string
	absent   bool
}

func warned(w *planWarnings, want func() string) plancheck.PlanCheck {
	return warningCheck{warnings: w, want: want}
}

func notWarned(w *planWarnings, text string) plancheck.PlanCheck {
	return warningCheck{warnings: w, want: func() string { return text }, absent: true}
}

func (c warningCheck) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	got, want := c.warnings.text(), c.want()
	switch found := strings.Contains(got, want); {
	case c.absent && found:
		resp.Error = fmt.Errorf("the plan warned %q:\n%s", want, got)
	case !c.absent && !found:
		resp.Error = fmt.Errorf("the plan did not warn %q; its warnings:\n%s", want, got)
	}
}
