// Command plan benchmarks `terraform apply` and `terraform plan` (with
// refresh) over N pgsecrets_project_secret resources against two floors:
// the same N resources of a do-nothing provider with the same schema and
// framework (nothingprovider/), and N built-in terraform_data. It prints
// the median of R runs of each and the ratios; the target is a plan and an
// apply within 1.05x of the do-nothing provider, and a peak RSS within
// 1.2x of its.
//
//	go run ./tools/withpg -- go run ./tools/bench/plan -n 1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// maxRatio is the target: plan and apply of pgsecrets_project_secret
// within this factor of the do-nothing provider's.
const maxRatio = 1.05

// maxRSSRatio is the target for the provider process's peak RSS, against
// the do-nothing provider's.
const maxRSSRatio = 1.2

const dbName = "bench_plan"

func main() {
	n := flag.Int("n", 1000, "resources per configuration")
	runs := flag.Int("r", 3, "runs of apply and plan per configuration; the median is reported")
	keep := flag.Bool("keep", false, "keep the work directory (configurations, states, terraform.log)")
	flag.Parse()
	if *n < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench plan: -n and -r must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench plan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n, runs int, keep bool) (err error) {
	if _, err := exec.LookPath("terraform"); err != nil {
		return errors.New("terraform is not on PATH; install Terraform 1.11 or later")
	}
	tmp, err := os.MkdirTemp("", "bench-plan-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Printf("work directory kept: %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "bin")
	if err := buildProviders(bin); err != nil {
		return err
	}

	srv, err := benchkit.StartServer(ctx, os.Getenv(settings.EnvDatabaseURL))
	if err != nil {
		return err
	}
	defer srv.Stop()
	dbURL, err := srv.NewDatabase(ctx, dbName)
	if err != nil {
		return fmt.Errorf("create database %s: %w", dbName, err)
	}
	defer dropDatabase(srv.URL)

	ws, err := newWorkspace(tmp, bin, dbURL)
	if err != nil {
		return err
	}
	ws.serverCPU = benchkit.LocalServerCPU(ctx, dbURL)
	if err := ws.prepareDatabase(); err != nil {
		return err
	}

	fmt.Printf("plan benchmark: %d resources per configuration, median of %d runs, terraform %s, %d CPUs, load %s\n",
		n, runs, ws.terraformVersion(), runtime.NumCPU(), benchkit.Load())
	// Runs alternate between the configurations, so that a change in the
	// machine's load falls on each alike, and each is printed as it ends.
	results := make(map[string]result, len(configs))
	for i := range runs {
		for _, c := range configs {
			one, err := ws.measure(ctx, c, n, 1)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			fmt.Printf("run %d/%d  %-26s  apply %7.2f s (CPU %6.2f s, server %5.2f s)  plan %7.2f s  load %s\n", i+1, runs, c.name,
				one.apply.Seconds(), one.applyCPUs[0].Seconds(), one.applyServerCPUs[0].Seconds(), one.plan.Seconds(), benchkit.Load())
			r := results[c.name]
			r.applies, r.plans = append(r.applies, one.apply), append(r.plans, one.plan)
			r.applyCPUs, r.applyServerCPUs = append(r.applyCPUs, one.applyCPUs...), append(r.applyServerCPUs, one.applyServerCPUs...)
			r.providerRSS = max(r.providerRSS, one.providerRSS)
			results[c.name] = r
		}
	}
	for name, r := range results {
		r.apply, r.plan = median(r.applies), median(r.plans)
		results[name] = r
	}
	printTable(results)
	return nil
}

// result is the medians of one configuration's runs.
type result struct {
	apply, plan time.Duration
	// applies and plans are every run's, in order, for the spread.
	applies, plans []time.Duration
	// applyCPUs are every apply's CPU time of Terraform with its
	// providers, applyServerCPUs the server's meanwhile.
	applyCPUs, applyServerCPUs []time.Duration
	// providerRSS is the provider process's peak resident set over the
	// runs, 0 for the built-in terraform_data or when /proc cannot tell.
	providerRSS int64
}

func printTable(results map[string]result) {
	nothing, data := results["nothing_secret"], results["terraform_data"]
	fmt.Printf("%-26s  %8s  %8s  %15s  %15s  %16s  %16s  %13s\n",
		"config", "apply s", "plan s", "plan/nothing", "plan/tf_data", "apply/nothing", "apply/tf_data", "provider RSS")
	for _, c := range configs {
		r := results[c.name]
		rss := "-"
		if r.providerRSS > 0 {
			rss = benchkit.MiB(r.providerRSS)
		}
		fmt.Printf("%-26s  %8.2f  %8.2f  %14.2fx  %14.2fx  %15.2fx  %15.2fx  %13s\n", c.name,
			r.apply.Seconds(), r.plan.Seconds(),
			ratio(r.plan, nothing.plan), ratio(r.plan, data.plan), ratio(r.apply, nothing.apply), ratio(r.apply, data.apply), rss)
	}
	if len(nothing.applies) > 1 {
		for _, c := range configs {
			r := results[c.name]
			fmt.Printf("%-26s  runs: apply %s s, plan %s s\n", c.name, seconds(r.applies), seconds(r.plans))
		}
	}
	// CPU beside wall: the same work costs the same CPU whatever else
	// runs, where wall time on a busy machine does not.
	nothingCPU := median(totals(nothing))
	for _, c := range configs {
		r := results[c.name]
		fmt.Printf("%-26s  apply CPU: Terraform and provider %6.2f s, server %5.2f s, together %.2fx of nothing_secret's\n", c.name,
			median(r.applyCPUs).Seconds(), median(r.applyServerCPUs).Seconds(), ratio(median(totals(r)), nothingCPU))
	}
	ours := results["pgsecrets_project_secret"]
	for _, op := range []struct {
		name      string
		got, base time.Duration
	}{{"plan", ours.plan, nothing.plan}, {"apply", ours.apply, nothing.apply}} {
		got := ratio(op.got, op.base)
		fmt.Printf("target: %s of pgsecrets_project_secret within %.2fx of nothing_secret: %.2fx, %s\n",
			op.name, maxRatio, got, benchkit.Verdict(got <= maxRatio))
	}
	if ours.providerRSS > 0 && nothing.providerRSS > 0 {
		got := float64(ours.providerRSS) / float64(nothing.providerRSS)
		fmt.Printf("target: peak RSS of the pgsecrets provider within %.2fx of the nothing provider's: %.2fx, %s\n",
			maxRSSRatio, got, benchkit.Verdict(got <= maxRSSRatio))
	}
	fmt.Println("apply: `terraform apply` creating every resource; plan: `terraform plan` with refresh, no changes expected;")
	fmt.Println("nothing_secret: same framework and schema as pgsecrets_project_secret, no work (see tools/bench/plan/README.md).")
}

// totals is each apply's CPU time, Terraform's, the providers' and the
// server's together.
func totals(r result) []time.Duration {
	out := make([]time.Duration, len(r.applyCPUs))
	for i := range out {
		out[i] = r.applyCPUs[i] + r.applyServerCPUs[i]
	}
	return out
}

// seconds lists durations as seconds, separated by slashes.
func seconds(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(out, " / ")
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// buildProviders builds pgsecrets (also its CLI) and the do-nothing
// provider into bin, under the names dev_overrides looks for.
func buildProviders(bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	pg, err := benchkit.BuildPgsecrets(bin)
	if err != nil {
		return err
	}
	if err := os.Link(pg, filepath.Join(bin, "terraform-provider-pgsecrets")); err != nil {
		return fmt.Errorf("name the pgsecrets binary as a provider: %w", err)
	}
	out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-nothing"),
		"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/plan/nothingprovider").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build nothingprovider: %v\n%s", err, out)
	}
	return nil
}

// dropDatabase removes the benchmark's database, for a server the
// benchmark did not start.
func dropDatabase(serverURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "drop database if exists "+pgx.Identifier{dbName}.Sanitize()+" with (force)")
}
