package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
)

var _ function.Function = (*secretRefFunction)(nil)

// secretRefFunction builds the {"$secretRef": {...}} object in HCL, so a
// config written with jsonencode() needs no hand-typed JSON keys.
type secretRefFunction struct{}

// NewSecretRefFunction is the provider::pgsecrets::secret_ref function.
func NewSecretRefFunction() function.Function { return secretRefFunction{} }

func (secretRefFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "secret_ref"
}

func (secretRefFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Build a secret reference for a pgsecrets_resolved_config config",
		MarkdownDescription: "Returns the object `{\"$secretRef\": {\"name\": name}}` (with `\"default\"` when a default is given), " +
			"which `jsonencode()` turns into the JSON that `pgsecrets_resolved_config` and `pgsecrets render` replace with the secret's value. " +
			"Example: `jsonencode({ apiKey = provider::pgsecrets::secret_ref(\"OPENAI_API_KEY\") })`. " +
			"It only builds the reference; it reads nothing from the database.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "name",
				MarkdownDescription: "Name of the secret to reference, e.g. `OPENAI_API_KEY`.",
			},
		},
		VariadicParameter: function.StringParameter{
			Name: "default",
			MarkdownDescription: "At most one: the value to use when the secret is neither in the database nor (with `env_fallback`) in the environment. " +
				"Without it, a missing secret fails the resolution.",
		},
		Return: function.DynamicReturn{},
	}
}

func (secretRefFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var (
		name     string
		defaults []string
	)
	resp.Error = req.Arguments.Get(ctx, &name, &defaults)
	if resp.Error != nil {
		return
	}
	if name == "" {
		resp.Error = function.NewArgumentFuncError(0, `secret_ref: the name is empty; pass the secret's name, e.g. secret_ref("OPENAI_API_KEY")`)
		return
	}
	if len(defaults) > 1 {
		resp.Error = function.NewArgumentFuncError(2, `secret_ref: give at most one default, e.g. secret_ref("LOG_LEVEL", "info")`)
		return
	}
	attrTypes := map[string]attr.Type{"name": types.StringType}
	values := map[string]attr.Value{"name": types.StringValue(name)}
	if len(defaults) == 1 {
		attrTypes["default"] = types.StringType
		values["default"] = types.StringValue(defaults[0])
	}
	ref, diags := types.ObjectValue(attrTypes, values)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	outer, diags := types.ObjectValue(
		map[string]attr.Type{secretref.Key: ref.Type(ctx)},
		map[string]attr.Value{secretref.Key: ref},
	)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = resp.Result.Set(ctx, types.DynamicValue(outer))
}
