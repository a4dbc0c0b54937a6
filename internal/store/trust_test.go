package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// Attacks by someone who can write to the database (as a superuser where
// that is the premise), each shown refused or detected.

func put(t *testing.T, s *store.Store, project, name, value string) store.SecretMeta {
	t.Helper()
	m, err := s.PutSecret(context.Background(), store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dbAt is a fresh database whose schema is at migration version, as a
// release before a later migration left it.
func dbAt(t *testing.T, version int32) *storetest.DB {
	t.Helper()
	db := storetest.NewDB(t)
	exec(t, db, "drop schema pgsecrets cascade")
	if _, err := store.MigrateTo(context.Background(), db.Pool, store.DefaultSchema, version, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func exec(t *testing.T, db *storetest.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// A revoked token, copied back from a backup into its own row, is refused.
func TestOlderCiphertextCopiedBackIntoItsRowRefused(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	put(t, s, "app", "SLACK_BOT_TOKEN", "xoxb-revoked")
	var old string
	if err := db.Pool.QueryRow(ctx, "select ciphertext from secrets where name = 'SLACK_BOT_TOKEN'").Scan(&old); err != nil {
		t.Fatal(err)
	}
	put(t, s, "app", "SLACK_BOT_TOKEN", "xoxb-current")
	exec(t, db, "update secrets set ciphertext = $1 where name = 'SLACK_BOT_TOKEN'", old)

	_, err := s.GetSecret(ctx, "app", "SLACK_BOT_TOKEN", "test")
	var stale *keyring.StaleBindingError
	if !errors.As(err, &stale) {
		t.Fatalf("read of the copied-back ciphertext: %v, want StaleBindingError", err)
	}
	for _, want := range []string{`secret "app/SLACK_BOT_TOKEN"`, "written for revision 1", "row is at revision 2", "copied back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "xoxb") {
		t.Errorf("error shows a value: %v", err)
	}
}

func TestUnboundCiphertextWarnedAndRefusedWhenStrict(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "w")
	put(t, s, "app", "K", "real")
	planted, kid, err := ring.Encrypt([]byte("planted"), "")
	if err != nil {
		t.Fatal(err)
	}
	// The writer also sets the bound column: it is no longer trusted.
	exec(t, db, "update secrets set ciphertext = $1, kid = $2, bound = true where name = 'K'", planted, kid)

	sec, err := s.GetSecret(ctx, "app", "K", "test")
	if err != nil || !sec.Unbound || sec.Bound {
		t.Fatalf("lenient read: unbound %v bound %v err %v; want it read and flagged unbound", sec.Unbound, sec.Bound, err)
	}
	usage, err := s.KeyUsage(ctx)
	if err != nil || usage[0].Unbound != 1 {
		t.Fatalf("key status counts %+v (%v), want 1 unbound read from the ciphertext", usage, err)
	}

	cfg := db.Config
	cfg.Strict = true
	strict, err := store.Open(ctx, cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	_, err = strict.GetSecret(ctx, "app", "K", "test")
	var unbound *store.UnboundError
	if !errors.As(err, &unbound) || !strings.Contains(err.Error(), "strict mode refuses it") {
		t.Fatalf("strict read: %v, want UnboundError", err)
	}
	// A value written by this version is fully bound: strict reads it.
	put(t, strict, "app", "K2", "fine")
	if _, err := strict.GetSecret(ctx, "app", "K2", "test"); err != nil {
		t.Fatalf("strict read of a fully bound value: %v", err)
	}
}

// A disabled (possibly compromised) data key cannot be re-enabled, nor a
// key promoted to primary, by editing its row.
func TestDataKeyStateEditedInDatabaseRefused(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewLegacyDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "w")
	if _, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "dk-old", Alg: "dir", Enc: "A256GCM", State: store.StateActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDataKeyState(ctx, "dk-old", store.StateDisabled); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"update encryption_keys set state = 'active' where kid = 'dk-old'",
		"update encryption_keys set state = 'primary' where kid = 'dk-old'",
	} {
		exec(t, db, sql)
		_, err := store.Open(ctx, db.Config, ring)
		var stale *keyring.StaleBindingError
		if !errors.As(err, &stale) || !strings.Contains(err.Error(), "edited in the database") {
			t.Fatalf("after %q: open = %v, want the edited key row refused", sql, err)
		}
		exec(t, db, "update encryption_keys set state = 'disabled' where kid = 'dk-old'")
	}
	if _, err := store.Open(ctx, db.Config, ring); err != nil {
		t.Fatalf("open once the row is back as authenticated: %v", err)
	}
}

// Two deployments share a root key (staging and production, say). A chain
// copied from one into the other does not verify there.
func TestAuditChainCopiedFromAnotherDeploymentDoesNotVerify(t *testing.T) {
	ctx := context.Background()
	roots := testRootKeyList(t)
	staging, prod := storetest.NewDB(t), storetest.NewDB(t)
	sStaging := staging.Open(t, storetest.Ring(t, roots...), "staging")
	put(t, sStaging, "app", "K", "staging value")
	sProd := prod.Open(t, storetest.Ring(t, roots...), "prod")
	if _, err := sProd.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatal(err)
	}

	// Copy staging's chain and audit keys over production's, as a superuser.
	copyTable := func(table string) {
		rows, err := staging.Pool.Query(ctx, "select * from "+table)
		if err != nil {
			t.Fatal(err)
		}
		values, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatal(err)
		}
		cols := make([]string, len(rows.FieldDescriptions()))
		for i, f := range rows.FieldDescriptions() {
			cols[i] = f.Name
		}
		if _, err := prod.Pool.CopyFrom(ctx, pgx.Identifier{"pgsecrets", table}, cols, pgx.CopyFromRows(values)); err != nil {
			t.Fatalf("copy %s: %v", table, err)
		}
	}
	exec(t, prod, "alter table audit_events disable trigger user")
	exec(t, prod, "delete from audit_events")
	exec(t, prod, "delete from audit_keys")
	copyTable("audit_events")
	copyTable("audit_keys")
	exec(t, prod, "alter table audit_events enable trigger user")
	exec(t, prod, "update audit_head set (seq, mac) = (select seq, mac from audit_events order by seq desc limit 1)")

	_, err := prod.Open(t, storetest.Ring(t, roots...), "verifier").VerifyAuditChain(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "audit event 1 is keyed by") || !strings.Contains(err.Error(), "cannot be opened") {
		t.Fatalf("verify of a copied chain: %v, want its audit key refused as another deployment's", err)
	}
}

// Events written by the first release, keyed by a root key directly, still
// verify after that root key is retired, once reencrypt (or migrate up)
// has stored their key wrapped under the new root key.
func TestFirstReleaseEventsVerifyAfterRootKeyRetirement(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	s := db.Open(t, storetest.Ring(t, roots...), "w")
	// Append two events the way the first release did: scheme 1, keyed by
	// HKDF of the first root key, as the owner in one transaction.
	legacy, err := storetest.Ring(t, roots...).LegacyAuditKey("root-a")
	if err != nil {
		t.Fatal(err)
	}
	key := audit.NewKey("root-a", audit.SchemeRootDerived, 0, legacy)
	exec(t, db, "alter table audit_events disable trigger user")
	exec(t, db, "delete from audit_events")
	exec(t, db, "update audit_head set seq = 0, mac = ''")
	exec(t, db, "alter table audit_events enable trigger user")
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		seq, mac := int64(0), ""
		now := mustNow(t, tx)
		for _, action := range []string{"secret.create", "secret.read"} {
			e := &audit.Event{At: now, Actor: "old release", DBRole: "postgres", Action: action, Project: "app", Subject: "K", Details: "{}"}
			audit.Seal(audit.Chain{}, key, seq, mac, e)
			if _, err := tx.Exec(ctx, "insert into audit_events (seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
				e.Seq, e.At, e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC); err != nil {
				return err
			}
			seq, mac = e.Seq, e.MAC
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "app", "K", "v") // then events of this release
	if _, err := s.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("mixed chain: %v", err)
	}

	// Rotate: new key first, reencrypt stores and moves the audit keys.
	next := storetest.Key(t, "root-next", "dir")
	rotated := db.Open(t, storetest.Ring(t, append([]*keyring.Key{next}, roots...)...), "rotator")
	res, err := rotated.RewrapAuditKeys(ctx)
	if err != nil || len(res.Stored) != 1 || res.Stored[0] != "root-a" {
		t.Fatalf("rewrap audit keys: %+v %v, want root-a's first-release key stored", res, err)
	}
	// Retire every old root key.
	retired := db.Open(t, storetest.Ring(t, next), "auditor")
	rep, err := retired.VerifyAuditChain(ctx, "")
	if err != nil {
		t.Fatalf("verify after retiring the old root keys: %v", err)
	}
	if rep.Count < 4 {
		t.Errorf("verified %d events", rep.Count)
	}
}

func mustNow(t *testing.T, tx pgx.Tx) (now time.Time) {
	t.Helper()
	if err := tx.QueryRow(context.Background(), "select now()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// The runtime role reads and writes secrets and appends audit events, but
// cannot disable the append-only triggers, rewrite or delete events, or
// move the chain head.
func TestRuntimeRoleCannotTouchTheAuditTrail(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s, err := store.Open(ctx, db.Role(t, store.GrantRuntime), ring)
	if err != nil {
		t.Fatalf("open as the runtime role: %v", err)
	}
	defer s.Close()
	put(t, s, "app", "K", "v1")
	put(t, s, "app", "K", "v2")
	if sec, err := s.GetSecret(ctx, "app", "K", "test"); err != nil || string(sec.Value) != "v2" {
		t.Fatalf("read as the runtime role: %v", err)
	}
	if _, _, err := s.RotateProjectKey(ctx, "app"); err != nil {
		t.Fatalf("rotate a project key as the runtime role: %v", err)
	}
	// Sending new values back under a root key (out of project keys) is
	// refused to it.
	for _, sql := range []string{"update pgsecrets.key_scheme set project_keys_since = null", "delete from pgsecrets.key_scheme"} {
		if _, err := s.Pool().Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "cannot be undone") && !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("%s as the runtime role: %v, want it refused", sql, err)
		}
	}
	if _, err := s.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("verify as the runtime role: %v", err)
	}
	// The dashboard's state is the dashboard role's: the runtime role can
	// neither make an account nor sign anyone in.
	_, err = s.CreateAccount(ctx, store.NewAccount{Email: "mallory@example.com", Role: store.RoleAdmin, PasswordHash: fakeHash})
	if err == nil || !strings.Contains(err.Error(), "only the schema's owner") {
		t.Fatalf("create account as the runtime role: %v", err)
	}
	owner := db.Open(t, ring, "owner")
	a := createAccount(t, owner, "a@example.com", store.RoleViewer)
	if _, err := s.SetAccountPassword(ctx, "a@example.com", fakeHash); err == nil || !strings.Contains(err.Error(), "only the schema's owner") {
		t.Fatalf("reset password as the runtime role: %v", err)
	}
	if _, err := s.SetAccountDisabled(ctx, "a@example.com", true); err == nil || !strings.Contains(err.Error(), "the runtime role may not touch them") {
		t.Fatalf("disable account as the runtime role: %v", err)
	}
	if _, _, err := s.AccountCredentials(ctx, "a@example.com"); err == nil || !strings.Contains(err.Error(), "--grant-dashboard") {
		t.Fatalf("read a password hash as the runtime role: %v", err)
	}
	if _, err := s.StartSession(ctx, a, "tok", store.SessionTimeouts{Idle: time.Minute, Absolute: time.Hour}, ""); err == nil || !strings.Contains(err.Error(), "--grant-dashboard") {
		t.Fatalf("start session as the runtime role: %v", err)
	}
	if err := s.CheckDashboardRole(ctx); err == nil {
		t.Fatal("the runtime role passes the dashboard's check")
	}
	if _, _, err := s.AckRestart(ctx, "app"); err != nil {
		t.Fatalf("ack restart as the runtime role: %v", err)
	}

	for _, sql := range []string{
		"alter table pgsecrets.audit_events disable trigger user",
		"alter table pgsecrets.audit_events disable trigger all",
		"update pgsecrets.audit_events set actor = 'mallory'",
		"delete from pgsecrets.audit_events",
		"truncate pgsecrets.audit_events",
		"update pgsecrets.audit_head set seq = 0, mac = ''",
		"delete from pgsecrets.audit_head",
		"select * from pgsecrets.audit_head for update",
		"update pgsecrets.root_keys set check_value = 'x'",
		"drop trigger audit_events_append_only on pgsecrets.audit_events",
		"insert into pgsecrets.dashboard_accounts (email, role, password_hash, created_by, updated_by) values ('m@example.com', 'admin', '$argon2id$x', 'm', 'm')",
		"update pgsecrets.dashboard_accounts set role = 'admin'",
		"update pgsecrets.dashboard_accounts set password_hash = '$argon2id$x'",
		"update pgsecrets.dashboard_accounts set projects = '{}'",
		"update pgsecrets.dashboard_accounts set disabled = false",
		"delete from pgsecrets.dashboard_accounts",
		"select password_hash from pgsecrets.dashboard_accounts",
		"update pgsecrets.dashboard_sessions set expires_at = now() + interval '10 years'",
		"insert into pgsecrets.dashboard_signin_failures (scope, key, window_start, failures) values ('address', 'x', now(), 0)",
		"update pgsecrets.secret_counts set secrets = 0",
		"insert into pgsecrets.secret_counts (project, secrets) values ('x', 5)",
		"alter table pgsecrets.secrets disable trigger secret_counts_delete",
		"insert into pgsecrets.secret_count_changes (project, change) values ('x', 5)",
		"delete from pgsecrets.secret_count_changes",
	} {
		_, err := s.Pool().Exec(ctx, sql)
		if err == nil {
			t.Errorf("runtime role may: %s", sql)
		} else if !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s: %v, want a privilege error", sql, err)
		}
	}
}
