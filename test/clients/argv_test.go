package clients_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// clientArgv are the command lines the clients were seen passing to the
// runtime (RT_CLIENTS_ARGV_LOG; docs/compatibility.md), paths and ids
// replaced: R is a root, B a bundle, ID the container. Some the suite cannot
// drive through a client while rt has no checkpoint/restore (ctr's restore
// runs only after a checkpoint), so TestClientArgvParses replays them all.
var clientArgv = []struct {
	name string
	argv []string
}{
	{"shim create", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "create", "--bundle", "B", "--pid-file", "B/init.pid", "ID"}},
	{"shim create tty", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "create", "--bundle", "B", "--pid-file", "B/init.pid", "--console-socket", "B/pty.sock", "ID"}},
	{"shim exec", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "exec", "--process", "B/process.json", "--console-socket", "B/pty.sock", "--detach", "--pid-file", "B/x.pid", "ID"}},
	{"shim kill --all", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "kill", "--all", "ID", "9"}},
	{"shim ps", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "ps", "--format", "json", "ID"}},
	{"shim delete --force", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "delete", "--force", "ID"}},
	{"shim checkpoint", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "checkpoint", "--image-path", "B/img", "--work-path", "B/work/criu-work", "--file-locks", "--leave-running", "ID"}},
	{"shim restore", []string{"--root", "R", "--log", "B/log.json", "--log-format", "json", "restore", "--image-path", "B/img", "--work-path", "B/work", "--detach", "--pid-file", "B/init.pid", "-no-subreaper", "--bundle", "B", "ID"}},
	{"conmon create", []string{"--root", "R", "--log-format=json", "--log", "B/oci-log", "create", "--bundle", "B", "--pid-file", "B/pidfile", "--console-socket", "B/term.sock", "--preserve-fds", "1", "ID"}},
	{"conmon exec", []string{"--root", "R", "--log-format=json", "--log", "B/oci-log", "exec", "--pid-file", "B/exec_pid", "--process", "B/exec-process", "--detach", "--tty", "--console-socket", "B/term.sock", "--preserve-fds", "1", "ID"}},
	{"conmon restore", []string{"--root", "R", "--log-format=json", "--log", "B/oci-log", "restore", "--bundle", "B", "--pid-file", "B/pidfile", "--detach", "--image-path", "B/checkpoint", "--work-path", "B", "ID"}},
	{"podman update", []string{"--root", "R", "update", "--resources=B/resources.json", "ID"}},
	{"podman kill --all", []string{"--root", "R", "kill", "--all", "ID", "15"}},
	{"podman checkpoint", []string{"--root", "R", "checkpoint", "--image-path", "B/checkpoint", "--work-path", "B", "--leave-running", "--leave-running", "ID"}},
	{"podman checkpoint --help", []string{"checkpoint", "--help"}},
}

// flagError is how runc (urfave/cli, Go's flag) and rt (cobra, pflag) say a
// command line did not parse.
var flagError = regexp.MustCompile(`(?i)unknown (shorthand )?flag|flag provided but not defined|bad flag syntax|flag needs an argument|invalid argument .* for .*flag|unknown command|accepts \d+ arg`)

// TestClientArgvParses: every command line a client passes parses: on a
// container that does not exist the runtime fails (or succeeds: delete
// --force, checkpoint --help) for that reason, never for its flags. The
// podman and conmon lines get a --root of their own here (podman passes
// none, so the runtime's default root would be used).
func TestClientArgvParses(t *testing.T) {
	harness.RequireRoot(t)
	runtime := harness.Binaries(t).RT
	if compared != "" {
		runtime = compared
	}
	for _, c := range clientArgv {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "bundle"), 0o755)
			argv := make([]string, len(c.argv))
			for i, a := range c.argv {
				switch {
				case a == "R":
					a = filepath.Join(dir, "root")
				case a == "ID":
					a = "nosuch-" + uniq()
				case a == "B" || strings.Contains(a, "B/"):
					a = strings.Replace(a, "B", filepath.Join(dir, "bundle"), 1)
				}
				argv[i] = a
			}
			res := runCmd(t, cmdOpts{timeout: 20 * time.Second}, runtime, argv...)
			if flagError.MatchString(res.out()) {
				t.Errorf("the command line does not parse: %s", res)
			}
		})
	}
}

// TestKillStoppedWording: the words the shim matches in the runtime's
// output. containerd-shim-runc-v2 (pkg/process checkKillError) turns a
// failed kill into "process already finished" (ErrNotFound, which ctr and
// CRI's StopContainer treat as done) only when the output holds "container
// not running", "no such process" or "os: process already finished", and
// into "no such container" on "does not exist"; anything else is "unknown
// error after kill". The shim calls the runtime's kill while it still
// thinks the init runs, so an init that exits just then hits this: the
// race cannot be provoked through ctr, so the shim's kill command line is
// replayed here on a stopped container and on an unknown one. podman looks
// for "does not exist" too.
func TestKillStoppedWording(t *testing.T) {
	harness.RequireRoot(t)
	runtime := harness.Binaries(t).RT
	if compared != "" {
		runtime = compared
	}
	bundle := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"true"}
	})
	root := filepath.Join(t.TempDir(), "root")
	id := "stopped-" + uniq()
	rt := func(args ...string) result {
		t.Helper()
		return runCmd(t, cmdOpts{timeout: 20 * time.Second}, runtime, append([]string{"--root", root, "--log", filepath.Join(bundle, "log.json"), "--log-format", "json"}, args...)...)
	}
	t.Cleanup(func() { rt("delete", "--force", id) })
	if res := rt("create", "--bundle", bundle, id); res.code != 0 {
		t.Fatalf("create: %s", res)
	}
	if res := rt("start", id); res.code != 0 {
		t.Fatalf("start: %s", res)
	}
	harness.WaitFor(t, 10*time.Second, "the container stopped", func() bool {
		return strings.Contains(rt("state", id).stdout, `"stopped"`)
	})
	t.Run("unknown", func(t *testing.T) {
		if res := rt("kill", "nosuch-"+uniq(), "9"); res.code == 0 || !strings.Contains(res.out(), "does not exist") {
			t.Errorf(`kill of an unknown id: want an error saying "does not exist": %s`, res)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		res := rt("kill", id, "9")
		if res.code == 0 || !strings.Contains(res.out(), "container not running") {
			t.Errorf(`kill of a stopped container: want an error containing "container not running": %s`, res)
		}
	})
}
