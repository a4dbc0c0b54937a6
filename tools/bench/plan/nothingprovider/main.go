// Command nothingprovider is the floor of the plan benchmark: a Terraform
// provider built with the same terraform-plugin-framework as pgsecrets,
// whose one resource, nothing_secret, has exactly the schema of
// pgsecrets_project_secret but does no work: Create and Update copy the
// plan into state, Read and Delete do nothing. What it costs per resource
// is the framework's and Terraform's share, which pgsecrets cannot avoid.
//
// The benchmark builds it as terraform-provider-nothing and points
// Terraform at it with dev_overrides for bench/nothing.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/provider"
)

// Address is where the benchmark's Terraform configurations find it.
const Address = "registry.terraform.io/bench/nothing"

func main() {
	if err := providerserver.Serve(context.Background(), func() fwprovider.Provider { return nothingProvider{} },
		providerserver.ServeOpts{Address: Address}); err != nil {
		log.Fatal(err)
	}
}

type nothingProvider struct{}

func (nothingProvider) Metadata(_ context.Context, _ fwprovider.MetadataRequest, resp *fwprovider.MetadataResponse) {
	resp.TypeName = "nothing"
}

func (nothingProvider) Schema(context.Context, fwprovider.SchemaRequest, *fwprovider.SchemaResponse) {
}

func (nothingProvider) Configure(context.Context, fwprovider.ConfigureRequest, *fwprovider.ConfigureResponse) {
}

func (nothingProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return secretResource{} }}
}

func (nothingProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// secretResource is nothing_secret.
type secretResource struct{}

func (secretResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_secret"
}

// Schema is pgsecrets_project_secret's own, attributes, sensitivity,
// defaults, plan modifiers and validators included: the framework's cost
// grows with each of them, so a smaller schema would be an unfair floor.
func (secretResource) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	provider.NewProjectSecretResource().Schema(ctx, req, resp)
}

func (secretResource) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.State.Raw = applied(req.Plan.Raw, &resp.Diagnostics)
}

func (secretResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (secretResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = applied(req.Plan.Raw, &resp.Diagnostics)
}

func (secretResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// applied is the plan with its unknown (computed) values made known, as
// state after apply must be.
func applied(plan tftypes.Value, diags *diag.Diagnostics) tftypes.Value {
	v, err := tftypes.Transform(plan, func(_ *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if v.IsKnown() {
			return v, nil
		}
		switch {
		case v.Type().Is(tftypes.String):
			return tftypes.NewValue(tftypes.String, "nothing"), nil
		case v.Type().Is(tftypes.Number):
			return tftypes.NewValue(tftypes.Number, 1), nil
		case v.Type().Is(tftypes.Bool):
			return tftypes.NewValue(tftypes.Bool, true), nil
		}
		return tftypes.NewValue(v.Type(), nil), nil
	})
	if err != nil {
		diags.AddError("nothing_secret", err.Error())
	}
	return v
}
