package provider

import (
	"context"
	"strings"
	"testing"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// A secret named like a variable that changes how programs start is
// allowed, with a warning at validate (so at plan and apply) that
// `pgsecrets run` refuses it; other names validate quietly.
func TestProjectSecretNamedLikeAStartupVariableWarns(t *testing.T) {
	ctx := context.Background()
	r := &projectSecretResource{}
	var sresp fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sresp)
	validate := func(name string) string {
		m := projectSecretModel{
			Project: types.StringValue("app"), Name: types.StringValue(name), Value: types.StringValue("$(id)"),
			ValueWOVersion: types.Int64Null(),
		}
		st := tfsdk.State{Schema: sresp.Schema, Raw: tftypes.NewValue(sresp.Schema.Type().TerraformType(ctx), nil)}
		if diags := st.Set(ctx, &m); diags.HasError() {
			t.Fatalf("build config: %v", diags)
		}
		var resp fwresource.ValidateConfigResponse
		r.ValidateConfig(ctx, fwresource.ValidateConfigRequest{Config: tfsdk.Config{Schema: sresp.Schema, Raw: st.Raw}}, &resp)
		if resp.Diagnostics.HasError() {
			t.Fatalf("%s: errors: %s", name, diagText(resp.Diagnostics))
		}
		return warningsText(resp.Diagnostics)
	}

	got := validate("LD_PRELOAD")
	for _, want := range []string{
		"Warning: Secret named like a variable that changes how programs start: Secret LD_PRELOAD is named like a variable that changes how programs start (the dynamic loader",
		"`pgsecrets run` refuses to pass it unless given --allow-startup-var LD_PRELOAD",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "$(id)") {
		t.Errorf("a warning shows the value:\n%s", got)
	}
	if got := validate("APP_TOKEN"); got != "" {
		t.Errorf("APP_TOKEN validates with warnings:\n%s", got)
	}
}
