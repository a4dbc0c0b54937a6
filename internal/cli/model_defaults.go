package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func newModelDefaultsCmd(g *globalOptions) *cobra.Command {
	return newGroupCmd("model-defaults", "Read and set a project's model defaults: the AI provider and model per use case",
		`  pgsecrets model-defaults get --project billing
  pgsecrets model-defaults set --project billing --chat anthropic/claude-sonnet-4-5 --code openai/gpt-4.1`,
		newModelDefaultsGetCmd(g),
		newModelDefaultsSetCmd(g),
	)
}

// ModelDefaultsGetOptions configure `pgsecrets model-defaults get`.
type ModelDefaultsGetOptions struct {
	*globalOptions
	Project string
}

func newModelDefaultsGetCmd(g *globalOptions) *cobra.Command {
	opts := &ModelDefaultsGetOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show a project's default AI provider and model per use case",
		Long: `Show the provider and model a project uses by default for each use case
(chat, code, summary), as set here or by the pgsecrets_model_defaults
Terraform resource.`,
		Example: `  pgsecrets model-defaults get --project billing
  pgsecrets model-defaults get --project billing --output json | jq -r '.[] | select(.use_case == "chat") | .model'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireProject(cmd, opts.Project); err != nil {
				return err
			}
			return runModelDefaultsGet(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "the project (required)")
	return cmd
}

func runModelDefaultsGet(ctx context.Context, opts *ModelDefaultsGetOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	defs, err := st.GetModelDefaults(ctx, opts.Project)
	if err != nil {
		return err
	}
	if opts.JSON() {
		if defs == nil {
			defs = []store.ModelDefault{}
		}
		return writeJSON(opts.IO.Out, defs)
	}
	if len(defs) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "No model defaults for project %s.\n", opts.Project)
		return nil
	}
	t := newTable(opts.IO.Out, "USE CASE", "PROVIDER", "MODEL", "UPDATED", "UPDATED BY")
	for _, d := range defs {
		t.row(d.UseCase, d.Provider, d.Model, formatTime(d.UpdatedAt), d.UpdatedBy)
	}
	return t.flush()
}

// ModelDefaultsSetOptions configure `pgsecrets model-defaults set`.
type ModelDefaultsSetOptions struct {
	*globalOptions
	Project string
	// Set maps a use case to "provider/model", for the flags given.
	Set map[string]string
	// Remove lists use cases whose default is removed.
	Remove []string
}

func newModelDefaultsSetCmd(g *globalOptions) *cobra.Command {
	opts := &ModelDefaultsSetOptions{globalOptions: g, Set: map[string]string{}}
	flags := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set a project's default AI provider and model for some use cases",
		Long: `Set the provider and model a project uses by default, per use case, each
given as PROVIDER/MODEL (the model may itself contain "/"). Use cases not
given keep their current default; --remove drops one. The change is one
audited transaction.

A warning is printed when the project lacks the secret the provider's
SDKs read the API key from (e.g. ANTHROPIC_API_KEY), as Terraform does for
pgsecrets_model_defaults.`,
		Example: `  pgsecrets model-defaults set --project billing --chat anthropic/claude-sonnet-4-5
  pgsecrets model-defaults set --project billing --code openai/gpt-4.1 --remove summary`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireProject(cmd, opts.Project); err != nil {
				return err
			}
			for _, uc := range store.UseCases {
				if cmd.Flags().Changed(uc) {
					opts.Set[uc] = *flags[uc]
				}
			}
			if err := opts.validate(); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return runModelDefaultsSet(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "the project (required)")
	for _, uc := range store.UseCases {
		flags[uc] = cmd.Flags().String(uc, "", "PROVIDER/MODEL for "+uc+", e.g. anthropic/claude-sonnet-4-5")
	}
	cmd.Flags().StringSliceVar(&opts.Remove, "remove", nil, "use case(s) whose default to remove: chat, code, summary")
	return cmd
}

// validate applies the Terraform resource's rules: known use cases, a
// non-empty provider and model, and something to do.
func (o *ModelDefaultsSetOptions) validate() error {
	if len(o.Set) == 0 && len(o.Remove) == 0 {
		return errors.New("nothing to set: give at least one of --chat, --code, --summary or --remove")
	}
	for uc, v := range o.Set {
		provider, model, ok := strings.Cut(v, "/")
		if !ok || strings.TrimSpace(provider) == "" || strings.TrimSpace(model) == "" {
			return fmt.Errorf("--%s %q is not PROVIDER/MODEL, e.g. anthropic/claude-sonnet-4-5", uc, v)
		}
	}
	for _, uc := range o.Remove {
		if err := store.ValidateUseCase(uc); err != nil {
			return fmt.Errorf("--remove: %w", err)
		}
		if _, both := o.Set[uc]; both {
			return fmt.Errorf("--%s and --remove %s contradict each other: give one", uc, uc)
		}
	}
	return nil
}

func runModelDefaultsSet(ctx context.Context, opts *ModelDefaultsSetOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var set []store.ModelDefault
	for _, uc := range store.UseCases {
		if v, ok := opts.Set[uc]; ok {
			provider, model, _ := strings.Cut(v, "/")
			set = append(set, store.ModelDefault{UseCase: uc, Provider: strings.TrimSpace(provider), Model: strings.TrimSpace(model)})
		}
	}
	// One transaction: use cases not named keep whatever they hold now, even
	// if someone changes them meanwhile.
	defs, err := st.PatchModelDefaults(ctx, opts.Project, set, opts.Remove)
	if err != nil {
		return err
	}
	merged := map[string]store.ModelDefault{}
	for _, d := range defs {
		merged[d.UseCase] = d
	}

	for _, uc := range store.UseCases {
		if _, set := opts.Set[uc]; !set {
			continue
		}
		secret, ok := catalog.APIKeySecretName(merged[uc].Provider)
		if !ok {
			continue
		}
		if _, err := st.GetSecretMeta(ctx, opts.Project, secret); errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(opts.IO.ErrOut, "Warning: project %s has no secret %s, the API key provider %q usually needs; add it with `pgsecrets secret add --project %s --name %s`\n",
				opts.Project, secret, merged[uc].Provider, opts.Project, secret)
		} else if err != nil {
			return err
		}
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, defs)
	}
	fmt.Fprintf(opts.IO.Out, "Set model defaults of project %s:", opts.Project)
	if len(defs) == 0 {
		fmt.Fprint(opts.IO.Out, " none")
	}
	for _, d := range defs {
		fmt.Fprintf(opts.IO.Out, " %s=%s/%s", d.UseCase, d.Provider, d.Model)
	}
	fmt.Fprintln(opts.IO.Out)
	return nil
}
