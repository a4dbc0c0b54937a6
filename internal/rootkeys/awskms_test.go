package rootkeys_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// Every test here talks to a real KMS-compatible server (local-kms) and a
// real PostgreSQL; the counts are of calls that reached the server.

// kmsRing parses root keys as a new process does, with a client of its own
// that has resolved nothing yet.
func kmsRing(t *testing.T, entries ...string) *keyring.Keyring {
	t.Helper()
	ring, err := rootkeys.Load([]byte("[" + strings.Join(entries, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func put(t *testing.T, s *store.Store, project, name, value string) store.SecretMeta {
	t.Helper()
	m, err := s.PutSecret(context.Background(), store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision})
	if err != nil {
		t.Fatalf("put %s/%s: %v", project, name, err)
	}
	return m
}

func get(t *testing.T, s *store.Store, project, name string) string {
	t.Helper()
	sec, err := s.GetSecret(context.Background(), project, name, "test")
	if err != nil {
		t.Fatalf("get %s/%s: %v", project, name, err)
	}
	return string(sec.Value)
}

func TestAWSKMSRootWritesAndReadsFromTheFirstUse(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	writer := db.Open(t, kmsRing(t, entry), "writer")
	put(t, writer, "app", "API_TOKEN", "kms-canary-1")
	if kms.Calls("Encrypt") == 0 {
		t.Fatal("the project key was not wrapped by KMS")
	}
	// Another process, with the KMS root alone, reads it.
	reader := db.Open(t, kmsRing(t, entry), "reader")
	if got := get(t, reader, "app", "API_TOKEN"); got != "kms-canary-1" {
		t.Fatalf("read %q", got)
	}
	// The database holds the KMS's ciphertext only: the wrapped project key
	// names the KMS root and pgsecrets' own alg.
	var wrappedBy string
	if err := db.Pool.QueryRow(context.Background(), "select wrapping_kid from project_keys where project = 'app'").Scan(&wrappedBy); err != nil {
		t.Fatal(err)
	}
	if wrappedBy != "prod-kms" {
		t.Fatalf("project key wrapped by %q, want prod-kms", wrappedBy)
	}
	var cv string
	if err := db.Pool.QueryRow(context.Background(), "select check_value from root_keys where kid = 'prod-kms'").Scan(&cv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cv, "aws-kms:") || strings.Contains(cv, kms.KeyARN) {
		t.Fatalf("registered check value %q: want a digest, not the ARN", cv)
	}
}

// Another key under the registered kid (another alias, or the alias
// pointed elsewhere) is refused when the store opens, before anything is
// written, naming the key configured.
func TestAWSKMSWrongKeyRefusedAtOpen(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	put(t, db.Open(t, kmsRing(t, kms.Entry("prod-kms", kms.Alias)), ""), "app", "K", "v")
	var before int
	db.Pool.QueryRow(context.Background(), "select count(*) from secrets").Scan(&before)

	_, err := store.Open(context.Background(), db.Config, kmsRing(t, kms.Entry("prod-kms", kms.OtherAlias)))
	var mismatch *store.RootKeyMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("open with another KMS key under the same kid: %v", err)
	}
	for _, want := range []string{`"prod-kms"`, "AWS KMS key " + kms.OtherAlias, kms.OtherKeyARN} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	var after int
	db.Pool.QueryRow(context.Background(), "select count(*) from secrets").Scan(&after)
	if after != before {
		t.Fatalf("%d secrets written after the refusal", after-before)
	}
}

// A process that holds its project keys keeps reading when KMS goes away;
// a key it has not opened fails within the bound, naming the key and the
// cause.
func TestAWSKMSOutageKeepsOpenedKeysAndFailsNewUnwrapsWithinTheBound(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	writer := db.Open(t, kmsRing(t, entry), "")
	put(t, writer, "app", "K", "app-value")
	put(t, writer, "billing", "K", "billing-value")

	running := db.Open(t, kmsRing(t, entry), "")
	if got := get(t, running, "app", "K"); got != "app-value" {
		t.Fatalf("read %q", got)
	}
	kms.Stop()
	for range 3 {
		if got := get(t, running, "app", "K"); got != "app-value" {
			t.Fatalf("after the outage, read %q", got)
		}
	}
	put(t, running, "app", "K2", "written during the outage")

	start := time.Now()
	_, err := running.GetSecret(context.Background(), "billing", "K", "test")
	took := time.Since(start)
	if err == nil {
		t.Fatal("a project key never opened was read with KMS down")
	}
	if took > rootkeys.AWSKMSTimeout+2*time.Second {
		t.Errorf("the failure took %s, over the %s bound", took, rootkeys.AWSKMSTimeout)
	}
	msg := err.Error()
	for _, want := range []string{"prod-kms", "AWS KMS key " + kms.Alias + " in " + kms.Region, "unreachable"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") || strings.Contains(msg, "pgsecrets-test-not-a-secret") {
		t.Errorf("error is not one line free of credentials: %s", msg)
	}
	t.Logf("outage: %s after %s", msg, took)
}

// seedProject writes one secret through the store, which makes the
// project's key (wrapped by KMS), then n more under that key with one COPY:
// the test is about reading them.
func seedProject(t *testing.T, db *storetest.DB, s *store.Store, project string, n int) []string {
	t.Helper()
	m := put(t, s, project, "SECRET_00000", project+"-value-0")
	pk, ok := s.Keyring().ProjectKey(project, m.KID)
	if !ok {
		t.Fatalf("project key %s of %s not held after a write", m.KID, project)
	}
	names := []string{"SECRET_00000"}
	rows := make([][]any, 0, n)
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("SECRET_%05d", i)
		token, err := keyring.EncryptWith(pk, []byte(fmt.Sprintf("%s-value-%d", project, i)), keyring.SecretBinding(project, name, 1))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, []any{project, name, token, pk.KID, true, "seed", "seed"})
		names = append(names, name)
	}
	if _, err := db.Pool.CopyFrom(context.Background(), pgx.Identifier{"secrets"},
		[]string{"project", "name", "ciphertext", "kid", "bound", "created_by", "updated_by"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return names
}

// A process reading 10,000 secrets across 10 projects opens each project's
// key once: one Decrypt each, and a fixed few calls besides (the audit
// key, the registry check), whatever the number of secrets.
func TestAWSKMSRenderOfTenThousandRefsUnwrapsOncePerProject(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	seeder := db.Open(t, kmsRing(t, entry), "")
	names := map[string][]string{}
	for p := range 10 {
		project := fmt.Sprintf("app-%02d", p)
		names[project] = seedProject(t, db, seeder, project, 1000)
	}

	kms.ResetCalls()
	reader := db.Open(t, kmsRing(t, entry), "")
	atOpen := map[string]int{"DescribeKey": kms.Calls("DescribeKey"), "Decrypt": kms.Calls("Decrypt")}
	read := 0
	for round := range 2 { // a second render in the same process makes no call
		for project, list := range names {
			got, err := reader.GetValues(context.Background(), project, list, "render")
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				read += len(got)
			}
		}
	}
	if read != 10000 {
		t.Fatalf("read %d values, want 10000", read)
	}
	decrypts := kms.Calls("Decrypt")
	t.Logf("KMS calls of a process rendering 10,000 refs across 10 projects twice: Decrypt %d (%d at open), DescribeKey %d, Encrypt %d",
		decrypts, atOpen["Decrypt"], kms.Calls("DescribeKey"), kms.Calls("Encrypt"))
	// 10 project keys, plus the audit key the reads' audit events chain with.
	if decrypts > 10+1 {
		t.Errorf("%d Decrypt calls, want at most 10 project keys + 1 audit key", decrypts)
	}
	if d := kms.Calls("DescribeKey"); d > 1 {
		t.Errorf("%d DescribeKey calls, want the key resolved once per process", d)
	}
}

// A process writing 1,000 secrets in one project opens its key once.
func TestAWSKMSThousandWritesInOneProjectUnwrapOnce(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	put(t, db.Open(t, kmsRing(t, entry), ""), "app", "FIRST", "v")

	kms.ResetCalls()
	writer := db.Open(t, kmsRing(t, entry), "")
	for i := range 1000 {
		put(t, writer, "app", fmt.Sprintf("SECRET_%04d", i), fmt.Sprintf("value-%d", i))
	}
	t.Logf("KMS calls of a process writing 1,000 secrets in one project: Decrypt %d, Encrypt %d, DescribeKey %d",
		kms.Calls("Decrypt"), kms.Calls("Encrypt"), kms.Calls("DescribeKey"))
	// One for the project key, one for the audit key.
	if d := kms.Calls("Decrypt"); d > 2 {
		t.Errorf("%d Decrypt calls, want the project key once and the audit key once", d)
	}
	if e := kms.Calls("Encrypt"); e != 0 {
		t.Errorf("%d Encrypt calls for writes under an existing project key", e)
	}
}

// The planner role holds no root key: reading metadata makes no KMS call.
func TestAWSKMSPlannerMakesNoCall(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	put(t, db.Open(t, kmsRing(t, kms.Entry("prod-kms", kms.Alias)), ""), "app", "K", "v")
	kms.ResetCalls()
	planner, err := store.Open(context.Background(), db.Role(t, store.GrantPlanner), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer planner.Close()
	list, err := planner.ListSecrets(context.Background(), "app")
	if err != nil || len(list) != 1 {
		t.Fatalf("planner list: %v, %v", list, err)
	}
	for _, op := range []string{"Decrypt", "Encrypt", "DescribeKey"} {
		if n := kms.Calls(op); n != 0 {
			t.Errorf("the planner made %d %s calls", n, op)
		}
	}
}

// The dashboard signs in with a KMS first root: its session key comes from
// the seed wrapped at registration, opened at start with one call.
func TestAWSKMSDashboardSessionsWithAKMSFirstRoot(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	put(t, db.Open(t, kmsRing(t, entry), ""), "app", "K", "v")

	ctx := context.Background()
	s := db.Open(t, kmsRing(t, entry), "")
	kms.ResetCalls()
	if err := s.LoadSessionKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if d := kms.Calls("Decrypt"); d != 1 {
		t.Errorf("opening the session key took %d Decrypt calls, want 1", d)
	}
	a, err := s.CreateAccount(ctx, store.NewAccount{Email: "a@example.com", Role: store.RoleViewer, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartSession(ctx, a, "token-1", store.SessionTimeouts{Idle: time.Hour, Absolute: time.Hour}, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// Another dashboard process recognises the session.
	other := db.Open(t, kmsRing(t, entry), "")
	if err := other.LoadSessionKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := other.SessionByToken(ctx, "token-1"); err != nil || got.Account.Email != "a@example.com" {
		t.Fatalf("session in another process: %+v, %v", got, err)
	}
}

// Each way a configured KMS key can be unusable fails at open, on one
// line naming the key and the cause, and nothing is written.
func TestAWSKMSUnusableKeysFailNamingTheKeyAndTheCause(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(kms.Region))
	if err != nil {
		t.Fatal(err)
	}
	client := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = aws.String(kms.Endpoint) })
	if _, err := client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(kms.OtherKeyARN)}); err != nil {
		t.Fatal(err)
	}
	inUSEast1 := strings.Replace(kms.KeyARN, ":"+kms.Region+":", ":us-east-1:", 1)
	for _, c := range []struct {
		entry string
		want  []string
	}{
		{kms.Entry("k", "alias/missing"), []string{"AWS KMS key alias/missing in " + kms.Region, "no such key in " + kms.Region}},
		{fmt.Sprintf(`{"kid":"k","aws_kms":{"key_id":%q,"endpoint":%q}}`, inUSEast1, kms.Endpoint), []string{"AWS KMS key " + inUSEast1 + " in us-east-1", "no such key in us-east-1"}},
		{kms.Entry("k", kms.OtherAlias), []string{"AWS KMS key " + kms.OtherAlias, kms.OtherKeyARN + " is Disabled, not enabled"}},
	} {
		db := storetest.NewDB(t)
		_, err := store.Open(ctx, db.Config, kmsRing(t, c.entry))
		if err == nil {
			t.Errorf("%s: opened", c.entry)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error lacks %q: %v", c.entry, want, err)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error on several lines: %v", err)
		}
		t.Logf("%v", err)
		var n int
		db.Pool.QueryRow(ctx, "select count(*) from root_keys").Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d root keys registered", c.entry, n)
		}
	}
}

// A KMS endpoint that accepts connections and never answers fails the
// open within the bound instead of hanging it.
func TestAWSKMSThatNeverAnswersFailsWithinTheBound(t *testing.T) {
	kms := pgtest.StartLocalKMS(t) // for its AWS environment
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	entry := fmt.Sprintf(`{"kid":"k","aws_kms":{"key_id":%q,"region":%q,"endpoint":"http://%s"}}`, kms.Alias, kms.Region, l.Addr())
	db := storetest.NewDB(t)
	start := time.Now()
	_, err = store.Open(context.Background(), db.Config, kmsRing(t, entry))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer from KMS within 10s") || !strings.Contains(err.Error(), "AWS KMS key "+kms.Alias) {
		t.Fatalf("open against a KMS that never answers: %v", err)
	}
	if took > rootkeys.AWSKMSTimeout+2*time.Second {
		t.Fatalf("failed after %s, over the %s bound", took, rootkeys.AWSKMSTimeout)
	}
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
}

// Throttling is retried with backoff; a KMS that keeps throttling fails
// within the bound, saying so.
func TestAWSKMSThrottlingIsRetriedThenReported(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	kms.Throttle(2)
	put(t, db.Open(t, kmsRing(t, entry), ""), "app", "K", "v")

	kms.Throttle(1000)
	start := time.Now()
	_, err := store.Open(context.Background(), db.Config, kmsRing(t, entry))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "throttled by KMS") || !strings.Contains(err.Error(), "AWS KMS key "+kms.Alias) {
		t.Fatalf("open while KMS throttles every call: %v", err)
	}
	if took > rootkeys.AWSKMSTimeout+2*time.Second {
		t.Fatalf("failed after %s, over the %s bound", took, rootkeys.AWSKMSTimeout)
	}
	t.Logf("after %s, %d DescribeKey calls: %v", took.Round(time.Millisecond), kms.Calls("DescribeKey"), err)
}

// Moving off a KMS root while the KMS is down: the rewrap, which must
// unwrap every project key under it, stops on one line naming the key and
// leaves every key as it was; with the KMS back, the same run finishes.
func TestAWSKMSOutageStopsTheRewrapWholeThenRerunFinishes(t *testing.T) {
	ctx := context.Background()
	kms := pgtest.StartLocalKMS(t)
	db := storetest.NewDB(t)
	entry := kms.Entry("prod-kms", kms.Alias)
	onKMS := db.Open(t, kmsRing(t, entry), "")
	for _, p := range []string{"a", "b", "c"} {
		put(t, onKMS, p, "K", p+"-value")
	}
	next, err := keyring.Generate("next-jwk", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	nextJSON, err := keyring.ExportRootKeys([]*keyring.Key{next})
	if err != nil {
		t.Fatal(err)
	}
	rotated := db.Open(t, kmsRing(t, strings.Trim(string(nextJSON), "[]\n "), entry), "")

	kms.Stop()
	_, err = reencrypt.Run(ctx, rotated, reencrypt.Options{RetryFor: -1})
	var down *keyring.KeyServiceUnavailableError
	if !errors.As(err, &down) || !strings.Contains(err.Error(), "prod-kms") || strings.Count(strings.TrimSpace(err.Error()), "\n") != 0 {
		t.Fatalf("reencrypt with the KMS down: %v, want one line naming the key", err)
	}
	if got := wrappingKIDs(t, db); got["prod-kms"] != 3 || len(got) != 1 {
		t.Fatalf("project keys wrapped by %v after the failed run, want all 3 still by prod-kms", got)
	}

	if err := kms.Restart(); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, rotated, reencrypt.Options{})
	if err != nil || sum.ProjectKeysRewrapped != 3 {
		t.Fatalf("rerun with the KMS back: %+v %v", sum, err)
	}
	if got := wrappingKIDs(t, db); got["next-jwk"] != 3 || len(got) != 1 {
		t.Fatalf("project keys wrapped by %v after the rerun, want all 3 by next-jwk", got)
	}
	jwkOnly, err := keyring.New([]*keyring.Key{next})
	if err != nil {
		t.Fatal(err)
	}
	reader := db.Open(t, jwkOnly, "")
	for _, p := range []string{"a", "b", "c"} {
		if got := get(t, reader, p, "K"); got != p+"-value" {
			t.Fatalf("%s/K with the new root alone = %q", p, got)
		}
	}
}

// Mistakes in an aws_kms entry are refused when the root keys are read,
// before any call, saying what to write.
func TestAWSKMSEntryMistakesAreRefusedWhenRead(t *testing.T) {
	pgtest.StartLocalKMS(t) // for its AWS environment: no call is made
	for _, c := range []struct{ entry, want string }{
		{`{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","timeout":"soon"}}`, `timeout "soon" is not a duration from 100ms to 5m0s`},
		{`{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","timeout":"10ms"}}`, `timeout "10ms" is not a duration`},
		{`{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","timeout":"1h"}}`, `timeout "1h" is not a duration`},
		{`{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","endpoint":"kms.local"}}`, `endpoint "kms.local" is not an http(s) URL`},
		{`{"kid":"k","aws_kms":{"key_id":"arn:aws:kms:us-east-1:111122223333:key/x","region":"eu-west-1"}}`, `is in region us-east-1 but "region" says eu-west-1`},
		{`{"kid":"k","aws_kms":{"key_id":" ","region":"eu-west-1"}}`, `needs "key_id"`},
		{`{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","timout":"3s"}}`, `unknown field "timout"`},
	} {
		_, err := rootkeys.Parse([]byte("[" + c.entry + "]"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.entry, err, c.want)
		}
	}
	if _, err := rootkeys.Parse([]byte(`[{"kid":"k","aws_kms":{"key_id":"alias/x","region":"eu-west-1","timeout":"2.5s"}}]`)); err != nil {
		t.Errorf("a timeout of 2.5s: %v", err)
	}
}
