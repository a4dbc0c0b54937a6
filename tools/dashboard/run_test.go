package dashboard

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestMakeDashboardShowsTerraformAndLeavesNothingBehindOnCtrlC runs what
// `make dashboard` runs (withpg, then run.sh), on a database of its own,
// signs in with the password it prints, finds the secret Terraform wrote
// and the one deleted, then sends Ctrl-C to the whole process group as a
// terminal does: the run ends with exit code 0 and its temporary
// directory, root keys included, is gone.
func TestMakeDashboardShowsTerraformAndLeavesNothingBehindOnCtrlC(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "withpg"), "./tools/withpg")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build withpg: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	listen := freeAddress(t)

	// The test binary may have been started with Ctrl-C ignored (a
	// background job), which its children would inherit, and a shell
	// cannot trap a signal ignored when it started: catching it here
	// gives them the default, as from a terminal.
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, os.Interrupt)
	defer signal.Stop(caught)

	cmd := exec.Command(filepath.Join(bin, "withpg"), "--", "bash", "tools/dashboard/run.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PGSECRETS_DATABASE_URL="+pgtest.NewDatabase(t), "TMPDIR="+tmp, "DASHBOARD_LISTEN="+listen)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		log      pgtest.LogBuffer
		waitErr  error
		finished = make(chan struct{})
		printed  = make(chan string, 1)
	)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "Dashboard at ") {
				printed <- log.String()
			}
		}
		io.Copy(io.Discard, out)
		waitErr = cmd.Wait()
		close(finished)
	}()
	t.Cleanup(func() {
		// serve has a process group of its own: only run.sh stops it.
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
			select {
			case <-finished:
				return
			default:
			}
			syscall.Kill(-cmd.Process.Pid, sig)
			select {
			case <-finished:
				return
			case <-time.After(30 * time.Second):
			}
		}
	})
	var banner string
	select {
	case banner = <-printed:
	case <-finished:
		t.Fatalf("run.sh ended before serving: %v\n%s", waitErr, log.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("run.sh did not serve within 5 minutes:\n%s", log.String())
	}
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "pgsecrets-dashboard.*", "root-keys.json")); len(dirs) != 1 {
		t.Fatalf("no root keys in %s while serving: %v", tmp, dirs)
	}

	m := regexp.MustCompile(`admin@example.com\s+password (\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no admin password printed:\n%s", banner)
	}
	page := signInAndGet(t, "http://"+listen, "admin@example.com", m[1], "/secrets?project=support-bot")
	row := strings.ReplaceAll(regexp.MustCompile(`(?s)<tr id="secret-ANTHROPIC_API_KEY".*?</tr>`).FindString(page), "<wbr>", "")
	if !strings.Contains(row, `class="badge terraform"`) || !strings.Contains(row, "terraform:deploy@ci") {
		t.Errorf("ANTHROPIC_API_KEY is not shown as written by Terraform:\n%s", row)
	}
	if !strings.Contains(page, `id="deleted-LEGACY_WEBHOOK"`) {
		t.Error("the sample data has no deleted secret to undelete")
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
		if waitErr != nil {
			t.Errorf("after Ctrl-C: %v, want exit code 0\n%s", waitErr, log.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("still running a minute after Ctrl-C:\n%s", log.String())
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "pgsecrets-dashboard.*"))
	if len(left) > 0 {
		t.Errorf("left behind after Ctrl-C: %v", left)
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// signInAndGet signs in through the sign-in form, as a browser posts it,
// and returns the page at path.
func signInAndGet(t *testing.T, base, email, password, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/signin", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = client.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), email) {
		t.Fatalf("%s as %s: %d\n%s", path, email, res.StatusCode, b)
	}
	return string(b)
}
