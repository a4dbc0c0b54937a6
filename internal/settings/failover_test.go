package settings_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A multi-host URL with target_session_attrs=read-write, opened while the
// primary is gone and the standby not promoted yet, waits for the
// promotion and reaches the new primary; its messages name every host.
func TestMultiHostURLOpenedDuringAFailoverReachesTheNewPrimary(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	ctx := context.Background()
	r := pgtest.NewReplicatedCluster(t, pgtest.ReplicationOptions{Synchronous: true})
	key, err := keyring.Generate("root-ha", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.ExportRootKeys([]*keyring.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	explicit := settings.Explicit{DatabaseURL: r.URL(), RootKeysJSON: string(keys), RequireRootKeys: true, Actor: "ha-test"}
	pool, cfg, _, err := settings.Connect(ctx, explicit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	st, _, err := settings.Open(ctx, explicit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("before"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, port := range []string{r.Primary().Port(), r.Standby().Port()} {
		if target := store.PoolTarget(pool); !strings.Contains(target, "127.0.0.1:"+port) {
			t.Errorf("target %s does not name the host at port %s", target, port)
		}
	}

	r.StopPrimary(t)
	promoted := make(chan struct{})
	go func() {
		defer close(promoted)
		time.Sleep(time.Second) // Open is waiting by now
		r.Promote(t)
	}()
	st, _, err = settings.Open(ctx, explicit)
	<-promoted
	if err != nil {
		t.Fatalf("open during the failover: %v", err)
	}
	defer st.Close()
	got, err := st.GetSecret(ctx, "app", "TOKEN", "test")
	if err != nil || string(got.Value) != "before" {
		t.Fatalf("read on the new primary: %q, %v; want the value written before the failover", got.Value, err)
	}
	if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("after"), ExpectedRevision: got.Revision}); err != nil {
		t.Fatalf("write on the new primary: %v", err)
	}
}
