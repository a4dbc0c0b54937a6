package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Drift of a pgsecrets_project_secret: what was written outside Terraform,
// found from the revision Terraform applied, which private state keeps.

// ModifyPlan warns when the plan writes the configured value over a write
// made outside Terraform, naming who made it and when, and plans that
// rewrite for a write-only value, whose change Terraform cannot see
// itself: the revision refreshed from the database is not the one
// Terraform applied.
func (r *projectSecretResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	warnValueLeftInState(req.State.Raw, req.Plan.Raw, &resp.Diagnostics)
	rewrite := defaultsRestored(req.State.Raw, req.Plan.Raw)
	resp.Diagnostics.Append(r.warnOverOutsideWrite(ctx, req, &rewrite)...)
	if rewrite {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("revision"), types.Int64Unknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("kid"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("updated_at"), types.StringUnknown())...)
	}
}

// defaultsRestored reports whether the catalog defaults planned for an
// unset category or requires_restart replace what someone else stored.
// Terraform proposed no change there, so the framework left revision and
// the other results of a write known; the write this plans changes them.
func defaultsRestored(state, plan tftypes.Value) bool {
	return !rawAttr(plan, "category").Equal(rawAttr(state, "category")) ||
		!rawAttr(plan, "requires_restart").Equal(rawAttr(state, "requires_restart"))
}

// warnOverOutsideWrite warns when the plan writes over a revision that
// Terraform did not write, and sets *rewrite for a value_wo secret, which
// is written again whatever else the plan says.
func (r *projectSecretResource) warnOverOutsideWrite(ctx context.Context, req resource.ModifyPlanRequest, rewrite *bool) diag.Diagnostics {
	// Private state and raw walks (no schema lookups) keep this cheap on
	// a plan of many secrets when nobody else wrote.
	applied, ok, diags := appliedRevision(ctx, req.Private)
	if !ok {
		return diags
	}
	var rev big.Float
	if err := rawAttr(req.State.Raw, "revision").As(&rev); err != nil {
		return diags
	}
	revision, _ := rev.Int64()
	if revision == applied {
		return diags
	}
	writeOnly := !rawAttr(req.Plan.Raw, "value_wo_version").IsNull()
	// With `value` Terraform's own diff decides: no change of value, no
	// write over the other one.
	if !writeOnly && rawAttr(req.Plan.Raw, "value").Equal(rawAttr(req.State.Raw, "value")) {
		return diags
	}
	var project, name string
	_ = rawAttr(req.State.Raw, "project").As(&project)
	_ = rawAttr(req.State.Raw, "name").As(&name)
	outside, d := outsideWriteOf(ctx, req.Private)
	diags.Append(d...)
	diags.AddWarning("Secret changed outside Terraform", driftDetail(project+"/"+name, revision, applied, outside, writeOnly))
	*rewrite = *rewrite || writeOnly
	return diags
}

// driftDetail says who wrote id at revision, outside Terraform, and what
// the plan does about it. outside is nil when Read did not record the
// write (state from an older provider, or -refresh=false).
func driftDetail(id string, revision, applied int64, outside *outsideWrite, writeOnly bool) string {
	who := "outside Terraform (CLI, SQL, another tool)"
	if outside != nil && outside.Revision == revision {
		who = fmt.Sprintf("outside Terraform by %s at %s", outside.By, outside.At.UTC().Format(time.RFC3339))
	}
	keep := "To keep their value instead, set value to it (`pgsecrets secret get` shows it)."
	if writeOnly {
		keep = "To keep their value instead, put it in value_wo."
	}
	return fmt.Sprintf("%s was changed %s (revision %d; Terraform left it at revision %d); this plan writes the configured value again. %s",
		id, who, revision, applied, keep)
}

// warnValueLeftInState warns when state still holds a value that the
// configuration now gives as value_wo: an import by `project/name` read
// it, or the secret moved from value to value_wo. The apply drops it from
// state; copies of earlier state keep it. Raw walks keep this cheap on a
// plan of many secrets.
func warnValueLeftInState(state, plan tftypes.Value, diags *diag.Diagnostics) {
	if rawAttr(state, "value").IsNull() || rawAttr(plan, "value_wo_version").IsNull() {
		return
	}
	var project, name string
	_ = rawAttr(state, "project").As(&project)
	_ = rawAttr(state, "name").As(&name)
	diags.AddWarning("Secret value in Terraform state",
		fmt.Sprintf("State holds the value of %s/%s, which the configuration sets with value_wo: it was imported with %q (which reads the value), or set with value before. "+
			"This apply removes it from state, but state backups and earlier versions of remote state keep it: delete those, or rotate the secret. "+
			"Import value_wo secrets with %q.", project, name, project+"/"+name, project+"/"+name+writeOnlyImportSuffix))
}

// rawAttr is a top-level attribute of an object value; null when absent.
func rawAttr(obj tftypes.Value, name string) tftypes.Value {
	found, _, err := tftypes.WalkAttributePath(obj, tftypes.NewAttributePath().WithAttributeName(name))
	v, ok := found.(tftypes.Value)
	if err != nil || !ok {
		return tftypes.NewValue(tftypes.DynamicPseudoType, nil)
	}
	return v
}

// privateState is the part of the framework's private state API used here.
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// setWritten records, after Terraform wrote or imported meta, its
// revision and the ciphertext's digest, and forgets any earlier outside
// write. Import records them as a write does: without them, a later write
// outside Terraform would not be told apart, nor its author named.
func setWritten(ctx context.Context, p privateState, meta store.SecretMeta) diag.Diagnostics {
	b, _ := json.Marshal(meta.Revision)
	diags := p.SetKey(ctx, appliedRevisionKey, b)
	diags.Append(p.SetKey(ctx, outsideWriteKey, nil)...)
	diags.Append(setPrivateString(ctx, p, sealedKey, meta.Sealed)...)
	return diags
}

// setPrivateString keeps a string in private state, which holds JSON.
func setPrivateString(ctx context.Context, p privateState, key, value string) diag.Diagnostics {
	b, _ := json.Marshal(value)
	return p.SetKey(ctx, key, b)
}

// privateString reads what setPrivateString kept; "" when absent or
// unreadable, which only skips a check until the next write.
func privateString(ctx context.Context, p privateState, key string) (string, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, key)
	var v string
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return "", diags
	}
	return v, diags
}

func appliedRevision(ctx context.Context, p privateState) (int64, bool, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, appliedRevisionKey)
	if diags.HasError() || len(b) == 0 {
		return 0, false, diags
	}
	var rev int64
	if err := json.Unmarshal(b, &rev); err != nil {
		// Unreadable private state only loses drift detection until the
		// next apply rewrites it.
		return 0, false, diags
	}
	return rev, true, diags
}

// outsideWrite is the last write made outside Terraform, from the row's
// updated_by and updated_at as Read found them, for the plan's warning.
type outsideWrite struct {
	Revision int64     `json:"revision"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// noteOutsideWrite records meta's writer when meta is at a revision
// Terraform did not write. Revisions only grow, so a record is never
// cleared here, only by Terraform's next write (setWritten).
func noteOutsideWrite(ctx context.Context, p privateState, meta store.SecretMeta) diag.Diagnostics {
	applied, ok, diags := appliedRevision(ctx, p)
	if !ok || meta.Revision == applied {
		return diags
	}
	known, d := outsideWriteOf(ctx, p)
	diags.Append(d...)
	if known != nil && known.Revision == meta.Revision {
		return diags
	}
	b, _ := json.Marshal(outsideWrite{Revision: meta.Revision, By: meta.UpdatedBy, At: meta.UpdatedAt})
	return append(diags, p.SetKey(ctx, outsideWriteKey, b)...)
}

// outsideWriteOf reads what noteOutsideWrite kept; nil when absent or
// unreadable, which only makes the warning less specific.
func outsideWriteOf(ctx context.Context, p privateState) (*outsideWrite, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, outsideWriteKey)
	var w outsideWrite
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &w) != nil {
		return nil, diags
	}
	return &w, diags
}
