package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// storeRule validates a string attribute at plan time with the store's own
// check, so Terraform and the CLI accept exactly the same names.
type storeRule struct {
	description string
	check       func(string) error
}

var (
	projectNameRule = storeRule{"a project name: letters, digits, '_', '.', '-', starting with a letter or digit, at most 128", store.ValidateProject}
	secretNameRule  = storeRule{"a secret name: letters, digits, '_', '.', '-', starting with a letter or digit, at most 128", store.ValidateSecretName}
)

func (v storeRule) Description(context.Context) string         { return "must be " + v.description }
func (v storeRule) MarkdownDescription(context.Context) string { return "must be " + v.description }

func (v storeRule) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), err.Error())
	}
}

// valueRule refuses at plan time a value the store's write policy would
// refuse at apply (empty, or larger than store.MaxValueBytes), in the
// store's words, which name the secret. Unknown values are left to the
// apply, where PutSecret refuses them the same way.
type valueRule struct{}

const valueRuleDescription = "must hold 1 byte to 1 MiB"

func (valueRule) Description(context.Context) string         { return valueRuleDescription }
func (valueRule) MarkdownDescription(context.Context) string { return valueRuleDescription }

func (valueRule) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	value := req.ConfigValue.ValueString()
	// The names are only read for the message: the common case costs no
	// lookup in the configuration.
	if store.ValidateValue("", "", value) == nil {
		return
	}
	var project, name types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("project"), &project)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &name)...)
	resp.Diagnostics.AddAttributeError(req.Path, invalidValueSummary, store.ValidateValue(project.ValueString(), name.ValueString(), value).Error())
}

// invalidValueSummary heads the error for a value the write policy
// refuses, at plan time (valueRule) and at apply (addWriteError) alike.
const invalidValueSummary = "Invalid secret value"

// splitImportID splits an import ID made of parts joined by "/", naming
// the expected form when it does not fit.
func splitImportID(id string, form string, parts int) ([]string, error) {
	fields := strings.Split(id, "/")
	if len(fields) != parts {
		return nil, fmt.Errorf("import ID %q: expected %s", id, form)
	}
	for _, f := range fields {
		if f == "" {
			return nil, fmt.Errorf("import ID %q: expected %s, with no empty part", id, form)
		}
	}
	return fields, nil
}

// timeValue is how timestamps appear in state: RFC 3339, UTC.
func timeValue(t time.Time) types.String {
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}
