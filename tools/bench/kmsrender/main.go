// Command kmsrender measures `pgsecrets render` of one project's refs with
// the root key in AWS KMS (a real KMS-compatible server, local-kms) against
// the same render with a JWK root, and counts the KMS calls each render
// process makes: a KMS root wraps keys only, so a render unwraps its
// project's key once, and the audit key once, and then works from memory.
//
//	go run ./tools/bench/kmsrender -refs 10000 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

const project = "bench"

func main() {
	refs := flag.Int("refs", 10000, "secret references in the config, one secret each, in one project")
	runs := flag.Int("runs", 5, "renders with each root, alternating; the best of each is reported")
	dbURL := flag.String("database-url", "", "server to use (a user that may create databases); default: a throwaway one")
	flag.Parse()
	if err := run(context.Background(), *refs, *runs, *dbURL); err != nil {
		fmt.Fprintln(os.Stderr, "kmsrender:", err)
		os.Exit(1)
	}
}

// contender is one store and how to render from it.
type contender struct {
	name     string
	url      string
	keysFile string
	env      []string // beside the bench's own environment
	best     benchkit.Run
	calls    map[string]int // KMS calls of the last render, by operation
}

func run(ctx context.Context, refs, runs int, dbURL string) error {
	ws, err := benchkit.Begin(ctx, "kmsrender", dbURL)
	if err != nil {
		return err
	}
	defer ws.Close()
	for name, value := range pgtest.LocalKMSEnv() {
		os.Setenv(name, value)
	}
	kmsDir := filepath.Join(ws.Dir, "kms")
	if err := os.Mkdir(kmsDir, 0o700); err != nil {
		return err
	}
	kms, err := pgtest.RunLocalKMS(kmsDir)
	if err != nil {
		return err
	}
	defer kms.Stop()
	bin, err := benchkit.BuildPgsecrets(ws.Dir)
	if err != nil {
		return err
	}

	jwkRing, err := keyring.New([]*keyring.Key{ws.Key})
	if err != nil {
		return err
	}
	kmsKeys := "[" + kms.Entry("bench-kms", kms.Alias) + "]"
	kmsFile := filepath.Join(ws.Dir, "kms-keys.json")
	if err := os.WriteFile(kmsFile, []byte(kmsKeys), 0o600); err != nil {
		return err
	}
	kmsRing, err := rootkeys.Load([]byte(kmsKeys))
	if err != nil {
		return err
	}
	jwk := &contender{name: "JWK root", keysFile: ws.KeysFile}
	onKMS := &contender{name: "AWS KMS root", keysFile: kmsFile}
	// The same KMS root where AWS_CA_BUNDLE names the system's bundle, as
	// some images set it: the SDK parses the whole bundle when it makes
	// its client, whatever the endpoint. Shown, not compared to a target.
	bundle := systemCABundle()
	withBundle := &contender{name: "+AWS_CA_BUNDLE", keysFile: kmsFile, env: []string{"AWS_CA_BUNDLE=" + bundle}}
	for _, c := range []struct {
		c    *contender
		ring *keyring.Keyring
	}{{jwk, jwkRing}, {onKMS, kmsRing}} {
		st, url, err := benchkit.NewStoreDatabaseWith(ctx, ws.Server, strings.ReplaceAll(strings.ToLower(c.c.name), " ", "_"), c.ring, int32(benchkit.Workers()))
		if err != nil {
			return err
		}
		c.c.url = url
		if c.c == onKMS {
			withBundle.url = url
		}
		err = benchkit.SeedSecrets(ctx, st, project, refs, benchkit.Workers(), secretName, secretValue)
		if err == nil {
			err = benchkit.Settle(ctx, st)
		}
		st.Close()
		if err != nil {
			return err
		}
	}
	configFile := filepath.Join(ws.Dir, "config.json")
	if err := os.WriteFile(configFile, config(refs), 0o600); err != nil {
		return err
	}

	fmt.Printf("render of %d refs in one project, a fresh `pgsecrets render` process each, best of %d (load %s):\n", refs, runs, benchkit.Load())
	contenders := []*contender{jwk, onKMS}
	if bundle != "" {
		contenders = append(contenders, withBundle)
	}
	for i := range len(contenders) * runs {
		c := contenders[i%len(contenders)]
		kms.ResetCalls()
		r, err := render(bin, ws.Dir, c, configFile)
		if err != nil {
			return fmt.Errorf("render with the %s: %w", c.name, err)
		}
		c.calls = map[string]int{}
		for _, op := range []string{"Decrypt", "Encrypt", "DescribeKey"} {
			c.calls[op] = kms.Calls(op)
		}
		if c.best.Wall == 0 || r.Wall < c.best.Wall {
			c.best = r
		}
	}
	ratio := seconds(onKMS.best.Wall) / seconds(jwk.best.Wall)
	fmt.Printf("  %-14s %9s  %9s  %10s  %8s  %8s  %12s\n", "root key", "render", "CPU", "peak RSS", "Decrypt", "Encrypt", "DescribeKey")
	for _, c := range contenders {
		fmt.Printf("  %-14s %8.3fs  %8.3fs  %10s  %8d  %8d  %12d\n", c.name, seconds(c.best.Wall), seconds(c.best.CPU), benchkit.MiB(c.best.PeakRSS), c.calls["Decrypt"], c.calls["Encrypt"], c.calls["DescribeKey"])
	}
	// One unwrap of the project's key and one of the audit key the render's
	// event is written with; one DescribeKey to check the key at open.
	callsOK := onKMS.calls["Decrypt"] <= 2 && onKMS.calls["Encrypt"] == 0 && onKMS.calls["DescribeKey"] <= 1 && jwk.calls["Decrypt"] == 0
	fmt.Printf("ratio KMS/JWK: %.3fx (target 1.05x: %s); KMS calls per render: %s\n", ratio, benchkit.Verdict(ratio <= 1.05), benchkit.Verdict(callsOK))
	fmt.Println("Decrypt: the project key's unwrap and the audit key's; DescribeKey: the registry's check of the key at open; calls counted by a proxy in front of local-kms, answered by it.")
	if len(contenders) > 2 {
		fmt.Printf("+AWS_CA_BUNDLE: the KMS root with AWS_CA_BUNDLE set to the system's bundle, which the AWS SDK parses at each process's start: %.3fx of the JWK root\n", seconds(withBundle.best.Wall)/seconds(jwk.best.Wall))
	}
	if ratio > 1.05 || !callsOK {
		fmt.Println("at least one target missed")
	}
	return nil
}

// render runs `pgsecrets render` as a deploy script would, its output to a
// file, and checks that every ref resolved.
func render(bin, dir string, c *contender, configFile string) (benchkit.Run, error) {
	outFile := filepath.Join(dir, "rendered.json")
	out, err := os.Create(outFile)
	if err != nil {
		return benchkit.Run{}, err
	}
	defer out.Close()
	var stderr strings.Builder
	cmd := exec.Command(bin, "--database-url", c.url, "--root-keys-file", c.keysFile, "render", "--project", project, "--config", configFile)
	cmd.Env = append(append(os.Environ(), "PGSECRETS_ACTOR=bench"), c.env...)
	cmd.Stdout, cmd.Stderr = out, &stderr
	r, err := benchkit.RunCmd(cmd)
	if err != nil {
		return benchkit.Run{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		return benchkit.Run{}, err
	}
	if n := strings.Count(string(b), "sk_live_"); n < 1 {
		return benchkit.Run{}, fmt.Errorf("rendered output holds no value")
	}
	return r, nil
}

// systemCABundle is the first system CA bundle found, or "" when none is.
func systemCABundle() string {
	for _, f := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func secretName(i int) string  { return fmt.Sprintf("SECRET_%06d", i) }
func secretValue(i int) []byte { return []byte(fmt.Sprintf("sk_live_%032d", i)) }

// config is a flat JSON object of refs members, each a reference.
func config(refs int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := range refs {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `"key_%06d": {"$secretRef": {"name": %q}}`, i, secretName(i))
	}
	b.WriteString("}\n")
	return []byte(b.String())
}
