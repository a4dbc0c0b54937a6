// Command auditexport benchmarks `pgsecrets audit export` against
// `psql \copy (...) to stdout` of the same rows: the server streaming them
// as fast as it can, to a client that only writes them out. It seeds -events
// audit events, runs each export -runs times, alternating, both writing to
// a file, and prints the best times side by side with their ratio and the
// binary's peak RSS.
//
//	go run ./tools/bench/auditexport -events 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// Targets: each format's time against psql's, and peak memory.
const maxPeakRSS = 100 << 20

func main() {
	events := flag.Int("events", 20000, "audit events to seed")
	runs := flag.Int("runs", 3, "runs of each export; the best is reported")
	dbURL := flag.String("database-url", "", "server to use (a superuser: seeding bypasses the chain trigger); default: a throwaway one")
	out := flag.String("out", "", "where each export writes: a file (default: one in a temporary directory), or /dev/null to leave the disk out")
	flag.Parse()
	if err := run(*events, *runs, *dbURL, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench auditexport:", err)
		os.Exit(1)
	}
}

func run(events, runs int, dbURL, outPath string) error {
	ctx := context.Background()
	psql, err := exec.LookPath("psql")
	if err != nil {
		return fmt.Errorf("psql is needed for the baseline: %w", err)
	}
	tmp, err := os.MkdirTemp("", "bench-auditexport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := benchkit.BuildPgsecrets(tmp)
	if err != nil {
		return err
	}
	srv, err := benchkit.StartServer(ctx, dbURL)
	if err != nil {
		return err
	}
	defer srv.Stop()
	url, err := srv.NewDatabase(ctx, "bench_auditexport")
	if err != nil {
		return err
	}
	keysFile := filepath.Join(tmp, "keys.json")
	key, err := keyring.Generate("bench-root", "dir", "A256GCM")
	if err != nil {
		return err
	}
	b, _ := keyring.ExportRootKeys([]*keyring.Key{key})
	if err := os.WriteFile(keysFile, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeding %d audit events...\n", events)
	if err := seed(ctx, url, events); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	copySQL := `\copy (select ` + strings.ReplaceAll("seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac", "\n", " ") +
		` from pgsecrets.audit_events order by seq) to stdout`
	type contender struct {
		name     string
		maxRatio float64 // the target against psql
		cmd      []string
		best     benchkit.Run
		size     int64
	}
	contenders := []*contender{
		{name: `psql \copy`, cmd: []string{psql, "-X", "-q", url, "-c", copySQL}},
		{name: "export jsonl", maxRatio: 1.05, cmd: []string{bin, "--database-url", url, "--root-keys-file", keysFile, "audit", "export", "--format", "jsonl"}},
		{name: "export csv", maxRatio: 1.1, cmd: []string{bin, "--database-url", url, "--root-keys-file", keysFile, "audit", "export", "--format", "csv"}},
	}
	for i := 0; i < runs; i++ {
		for _, c := range contenders {
			out := outPath
			if out == "" {
				out = filepath.Join(tmp, "out")
			}
			r, err := benchkit.RunChild(out, []string{"PGSECRETS_ACTOR=bench"}, c.cmd[0], c.cmd[1:]...)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
				c.size = fi.Size()
			}
			if c.best.Wall == 0 || r.Wall < c.best.Wall {
				c.best = r
			}
		}
	}

	base := contenders[0].best.Wall
	dest := "a file"
	if outPath != "" {
		dest = outPath
	}
	fmt.Printf("audit export benchmark: %d events, best of %d runs each, output to %s, %d CPUs, load %s\n", events, runs, dest, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("%-13s  %9s  %7s  %10s  %9s  %12s  %10s  %s\n", "", "wall", "ratio", "events/s", "CPU", "peak RSS", "output", "targets (ratio, 100 MiB)")
	failed := false
	for i, c := range contenders {
		ratio := c.best.Wall.Seconds() / base.Seconds()
		verdict := "(baseline)"
		if i > 0 {
			ok := ratio <= c.maxRatio && c.best.PeakRSS < maxPeakRSS
			failed = failed || !ok
			verdict = fmt.Sprintf("%s (%.2fx) / %s", benchkit.Verdict(ratio <= c.maxRatio), c.maxRatio, benchkit.Verdict(c.best.PeakRSS < maxPeakRSS))
		}
		fmt.Printf("%-13s  %8.2fs  %6.2fx  %10.0f  %8.2fs  %12s  %10s  %s\n", c.name, c.best.Wall.Seconds(), ratio,
			float64(events)/c.best.Wall.Seconds(), c.best.CPU.Seconds(), benchkit.MiB(c.best.PeakRSS), benchkit.MiB(c.size), verdict)
	}
	fmt.Println("each: a whole child process (connect, query, write), wall time; CPU: its user+system time; peak RSS: getrusage of the child.")
	if failed {
		fmt.Println("at least one target missed")
	}
	return nil
}

// seed writes events of realistic size straight into the table, with the
// chain trigger off (the MACs are not valid: export does not check them),
// then points the chain head at the last one so the export can append its
// own event.
func seed(ctx context.Context, url string, events int) error {
	cfg := store.Config{DatabaseURL: url, Schema: store.DefaultSchema}
	pool, err := store.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range []string{
			"alter table pgsecrets.audit_events disable trigger user",
			`insert into pgsecrets.audit_events (seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac)
			 select g, timestamptz '2025-01-01' + g * interval '1 second',
			        'operator-' || (g % 7) || '@host-' || (g % 3), 'pgsecrets_app',
			        (array['secret.create', 'secret.update', 'secret.read', 'secret.delete'])[1 + g % 4],
			        'project-' || lpad((g % 200)::text, 3, '0'), 'SECRET_' || lpad(g::text, 7, '0'),
			        '{"kid":"251123-Ab3x","purpose":"terraform refresh","revision":' || (g % 50) || '}',
			        'bench-root',
			        case when g = 1 then '' else encode(sha256(int8send(g - 1)), 'hex') end,
			        encode(sha256(int8send(g)), 'hex')
			 from generate_series(1, $1::bigint) g`,
			"alter table pgsecrets.audit_events enable trigger user",
			"update pgsecrets.audit_head set seq = $1::bigint, mac = encode(sha256(int8send($1::bigint)), 'hex')",
			"analyze pgsecrets.audit_events",
		} {
			var args []any
			if strings.Contains(sql, "$1") {
				args = []any{events}
			}
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return err
			}
		}
		return nil
	})
}
