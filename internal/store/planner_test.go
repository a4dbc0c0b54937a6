package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// plannerStore opens db as a fresh role granted GrantPlanner, with no root
// keys, as a pull request's `terraform plan` does.
func plannerStore(t *testing.T, db *storetest.DB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), db.Role(t, store.GrantPlanner), nil)
	if err != nil {
		t.Fatalf("open as the planner role, without root keys: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestPlannerRoleReadsMetadataWithoutRootKeys(t *testing.T) {
	ctx := context.Background()
	owner, db := newTestStore(t)
	since := time.Now().Add(-time.Minute)
	put(t, owner, "app", "API_KEY", "v1")
	put(t, owner, "app", "API_KEY", "v2")
	restart := true
	if _, err := owner.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "DB_PASSWORD", Value: []byte("pw"),
		ExpectedRevision: store.AnyRevision, RequiresRestart: &restart}); err != nil {
		t.Fatal(err)
	}
	if err := owner.SetModelDefaults(ctx, "app", []store.ModelDefault{{UseCase: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5"}}); err != nil {
		t.Fatal(err)
	}

	planner := plannerStore(t, db)
	if planner.HasKeys() {
		t.Fatal("planner store has keys")
	}
	secrets, err := planner.ListSecrets(ctx, "app")
	if err != nil || len(secrets) != 2 {
		t.Fatalf("list as planner: %v, %d secrets", err, len(secrets))
	}
	meta, err := planner.GetSecretMeta(ctx, "app", "API_KEY")
	if err != nil || meta.Revision != 2 || meta.UpdatedBy != "tester" {
		t.Fatalf("metadata as planner: %+v, %v", meta, err)
	}
	if meta.Sealed != "" {
		t.Errorf("planner read a ciphertext digest %q", meta.Sealed)
	}
	if history, err := planner.SecretHistory(ctx, "app", "API_KEY"); err != nil || len(history) != 2 {
		t.Fatalf("history as planner: %v, %d versions", err, len(history))
	}
	if changed, err := planner.ChangedSince(ctx, "app", since); err != nil || len(changed) != 1 || changed[0].Name != "DB_PASSWORD" {
		t.Fatalf("restart notices as planner: %v, %+v", err, changed)
	}
	usage, err := planner.KeyUsage(ctx)
	if err != nil {
		t.Fatalf("key usage as planner: %v", err)
	}
	var secretsCounted, versionsCounted int64
	for _, u := range usage {
		secretsCounted += u.Secrets
		versionsCounted += u.Versions
	}
	if secretsCounted != 2 || versionsCounted != 1 {
		t.Errorf("key usage as planner counts %d secrets and %d versions, want 2 and 1", secretsCounted, versionsCounted)
	}
	if keys, err := planner.ListDataKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("data keys as planner: %v, %d keys", err, len(keys))
	}
	// A project key's metadata, and what it encrypts, but never the key.
	pks, err := planner.ListProjectKeys(ctx, "app")
	if err != nil || len(pks) != 1 || pks[0].State != store.ProjectKeyPrimary || pks[0].Secrets != 2 || pks[0].Versions != 1 || pks[0].WrappingKID != "root-a" {
		t.Fatalf("project keys as planner: %v, %+v", err, pks)
	}
	if defs, err := planner.GetModelDefaults(ctx, "app"); err != nil || len(defs) != 1 {
		t.Fatalf("model defaults as planner: %v, %+v", err, defs)
	}
	if _, err := planner.GetRetention(ctx, "app"); err != nil {
		t.Fatalf("retention as planner: %v", err)
	}

	// Whatever needs a value or a key refuses before touching the database.
	if _, err := planner.GetSecret(ctx, "app", "API_KEY", "test"); err == nil || !strings.Contains(err.Error(), "without root keys") {
		t.Errorf("decrypt as planner: %v, want a no-root-keys error", err)
	}
}

func TestPlannerRoleCannotReadCiphertextsOrKeyMaterial(t *testing.T) {
	owner, db := newTestStore(t)
	put(t, owner, "app", "API_KEY", "v1")
	put(t, owner, "app", "API_KEY", "v2")
	planner := plannerStore(t, db)
	for _, sql := range []string{
		"select ciphertext from pgsecrets.secrets",
		"select * from pgsecrets.secrets",
		"select ciphertext from pgsecrets.secret_versions",
		"select wrapped_key from pgsecrets.encryption_keys",
		"select wrapped_key from pgsecrets.project_keys",
		"select * from pgsecrets.project_keys",
		"update pgsecrets.project_keys set state = 'retired'",
		"delete from pgsecrets.project_keys",
		"update pgsecrets.key_scheme set project_keys_since = null",
		"select check_value from pgsecrets.root_keys",
		"select sessions_seed from pgsecrets.root_keys",
		"select * from pgsecrets.audit_events",
		"select * from pgsecrets.audit_keys",
		"select * from pgsecrets.audit_head",
		"update pgsecrets.secrets set description = 'x'",
		"insert into pgsecrets.secrets (project, name, ciphertext, kid, bound, created_by, updated_by) values ('a', 'B', 'x', 'k', true, 'm', 'm')",
		"delete from pgsecrets.secrets",
		"delete from pgsecrets.provider_defaults",
		"select password_hash from pgsecrets.dashboard_accounts",
		"select * from pgsecrets.dashboard_sessions",
		"select * from pgsecrets.dashboard_signin_failures",
		"select * from pgsecrets.secret_counts",
		"select * from pgsecrets.secret_count_changes",
	} {
		_, err := planner.Pool().Exec(context.Background(), sql)
		if err == nil {
			t.Errorf("planner role may: %s", sql)
		} else if !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: %v, want a privilege error", sql, err)
		}
	}
}
