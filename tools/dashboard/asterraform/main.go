// Command asterraform writes one secret the way the Terraform provider's
// pgsecrets_project_secret does: through store.PutSecret on a store opened
// with the Terraform channel, so the dashboard's sample data (`make
// dashboard`) holds a secret that pages mark as managed by Terraform,
// without needing terraform itself. The value is read from stdin.
//
//	printf %s "$value" | go run ./tools/dashboard/asterraform --project P --name N [--description D]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func main() {
	project := flag.String("project", "", "the secret's project")
	name := flag.String("name", "", "the secret's name")
	description := flag.String("description", "", "the secret's description")
	actor := flag.String("actor", "terraform:deploy@ci", "who writes it, as the provider's actor setting")
	flag.Parse()
	if err := write(context.Background(), *project, *name, *description, *actor); err != nil {
		fmt.Fprintf(os.Stderr, "asterraform: %v\n", err)
		os.Exit(1)
	}
}

func write(ctx context.Context, project, name, description, actor string) error {
	value, err := store.ReadValue(os.Stdin)
	if err != nil {
		return fmt.Errorf("read the value from stdin: %w", err)
	}
	defer clear(value)
	// The settings the provider passes (internal/provider's explicit), but
	// for the actor.
	st, _, err := settings.Open(ctx, settings.Explicit{
		Actor: actor, Channel: store.ChannelTerraform, ApplicationName: "pgsecrets-terraform",
		DatabaseURLSetting: "PGSECRETS_DATABASE_URL", RequireRootKeys: true,
	})
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.PutSecret(ctx, store.PutSecretInput{
		Project: project, Name: name, Value: value, Description: description,
		Validate: true, ExpectedRevision: store.AnyRevision,
	})
	return err
}
