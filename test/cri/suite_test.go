package cri_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

const (
	// reaperEnv names the suite's directory in the environment of the
	// reaper: the test binary started again, which waits for its stdin to
	// close (the suite's process has ended) and then tears the suite down.
	reaperEnv = "RT_CRI_REAPER"

	busyboxImage = "rt.test/busybox:1"
	pauseImage   = "rt.test/pause:1"
	handler      = "rt" // the runtime handler pods ask for
	k8sNamespace = "k8s.io"
)

// suite is what the tests share: one directory holding containerd's
// config, root, state and socket, the CNI config, the images and the
// runtime's --root; the host's state before it started, to compare with at
// the end.
type suite struct {
	dir      string // /tmp/rt-cri-*
	name     string // base of dir: the pods' cgroup parent and CRI namespace
	runtime  string // the runtime binary: rt or $RT_CRI_RUNTIME
	sock     string
	bridge   string // the CNI bridge's name
	subnet   string // the pods' IPv4 range (link-local)
	ipLink   string // `ip -o link` before the suite
	cniState string // a listing of /var/lib/cni before the suite
	reaper   *harness.Reaper
}

var (
	theSuite  *suite
	suiteErr  error
	suiteOnce sync.Once
)

// getSuite returns the shared suite, starting it on first use.
func getSuite(t *testing.T) *suite {
	t.Helper()
	harness.RequireRoot(t)
	for _, tool := range []string{"containerd", "ctr", "crictl", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil {
		t.Skipf("no CNI plugins in %s (make deps installs containernetworking-plugins)", cniBinDir)
	}
	bins := harness.Binaries(t)
	suiteOnce.Do(func() {
		start := time.Now()
		theSuite, suiteErr = newSuite(bins)
		t.Logf("containerd with CRI started and images imported in %v", time.Since(start).Round(time.Millisecond))
	})
	if suiteErr != nil {
		t.Fatalf("suite set-up: %v", suiteErr)
	}
	return theSuite
}

const cniBinDir = "/usr/lib/cni"

func newSuite(bins harness.Bins) (*suite, error) {
	s := &suite{runtime: bins.RT}
	if compared != "" {
		s.runtime = compared
	}
	link, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -o link: %w", err)
	}
	s.ipLink, s.cniState = string(link), cniListing()
	if s.dir, err = os.MkdirTemp("/tmp", "rt-cri-"); err != nil {
		return nil, err
	}
	os.Chmod(s.dir, 0o755)
	s.name = filepath.Base(s.dir)
	s.sock = filepath.Join(s.dir, "containerd.sock")
	// A bridge name is at most 15 bytes; the range is one of 100 /24s of
	// 169.254/16, told apart by the test binary's pid.
	n := os.Getpid() % 100
	s.bridge, s.subnet = fmt.Sprintf("rtcri%d", os.Getpid()), fmt.Sprintf("169.254.%d.0/24", 100+n)
	if s.reaper, err = harness.StartReaper(reaperEnv, s.dir); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	os.WriteFile(filepath.Join(s.dir, "bridge"), []byte(s.bridge), 0o644)
	if err := s.writeConfigs(); err != nil {
		return nil, err
	}
	if err := s.buildImages(); err != nil {
		return nil, err
	}
	if err := s.startContainerd(); err != nil {
		return nil, err
	}
	for _, img := range []string{"busybox.tar", "pause.tar"} {
		out, err := exec.Command("ctr", "--address", s.sock, "--namespace", k8sNamespace, "images", "import", filepath.Join(s.dir, img)).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ctr images import %s: %v: %s", img, err, out)
		}
	}
	return s, nil
}

// buildImages compiles the pause program and writes the two image archives.
func (s *suite) buildImages() error {
	pause := filepath.Join(s.dir, "pause")
	src, err := filepath.Abs("testdata/pause.c")
	if err != nil {
		return err
	}
	if out, err := exec.Command("gcc", "-static", "-Os", "-s", "-o", pause, src).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc pause.c: %v: %s", err, out)
	}
	if err := harness.BuildImageArchive(filepath.Join(s.dir, "busybox.tar"), busyboxImage); err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	if err := harness.BuildBinaryImageArchive(filepath.Join(s.dir, "pause.tar"), pauseImage, pause); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	return nil
}

// writeConfigs writes containerd's config.toml (the CRI plugin with the
// handler "rt") and the CNI network list.
func (s *suite) writeConfigs() error {
	d := s.dir
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = "%[3]s.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # The host has no AppArmor; the sandbox lacks CAP_SYS_RESOURCE, which a
  # pause container's oom_score_adj of -998 would need.
  disable_apparmor = true
  restrict_oom_score_adj = true
  # Pods' network namespaces under the suite's state, not /run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = %[8]q
    snapshotter = "overlayfs"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[8]s]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[8]s.options]
        BinaryName = %[9]q
        Root = %[10]q
        SystemdCgroup = false
`, filepath.Join(d, "root"), filepath.Join(d, "state"), s.sock, filepath.Join(d, "opt"), pauseImage,
		cniBinDir, filepath.Join(d, "net.d"), handler, s.runtime, s.runtimeRoot())
	if err := os.WriteFile(filepath.Join(d, "config.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %[1]q,
  "plugins": [{
    "type": "bridge",
    "bridge": %[2]q,
    "isGateway": true,
    "ipMasq": false,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %[3]q}]], "dataDir": %[4]q}
  }]
}
`, s.name, s.bridge, s.subnet, filepath.Join(d, "ipam"))
	if err := os.MkdirAll(filepath.Join(d, "net.d"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "net.d", "10-rt-cri.conflist"), []byte(cni), 0o644)
}

// runtimeRoot is the runtime's --root as the shim gives it: the handler's
// Root and the containerd namespace.
func (s *suite) runtimeRoot() string { return filepath.Join(s.dir, "runtime-root") }

func (s *suite) startContainerd() error {
	logf, err := os.Create(filepath.Join(s.dir, "containerd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("containerd", "--config", filepath.Join(s.dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(s.dir, "containerd.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("containerd exited: %s", s.containerdLog(2000))
		default:
		}
		if exec.Command("crictl", s.crictlFlags(5*time.Second, "version")...).Run() == nil {
			return nil
		}
	}
	return fmt.Errorf("containerd's CRI did not answer on %s within 30s: %s", s.sock, s.containerdLog(2000))
}

// containerdLog is the end of containerd's log, at most n bytes.
func (s *suite) containerdLog(n int) string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "containerd.log"))
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// crictlFlags are crictl's arguments for args, talking to the suite's
// containerd (and reading no host config).
func (s *suite) crictlFlags(timeout time.Duration, args ...string) []string {
	ep := "unix://" + s.sock
	return append([]string{"--config", "/dev/null", "--runtime-endpoint", ep, "--image-endpoint", ep,
		"--timeout", timeout.String()}, args...)
}

// result is a finished crictl call.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("crictl %s: exit %d\nstdout: %q\nstderr: %q", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// crictl runs crictl args against the suite's containerd, killed after a
// minute.
func (s *suite) crictl(t testing.TB, args ...string) result {
	t.Helper()
	full := append([]string{"-k", "5", "60", "crictl"}, s.crictlFlags(50*time.Second, args...)...)
	cmd := exec.Command("timeout", full...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("crictl %v: %v", args, err)
	}
	return res
}

// must runs crictl args and fails t unless it succeeds; it returns stdout
// trimmed.
func (s *suite) must(t testing.TB, args ...string) string {
	t.Helper()
	res := s.crictl(t, args...)
	if res.code != 0 {
		t.Fatalf("%s\ncontainerd's log ends:\n%s", res, s.containerdLog(1500))
	}
	return strings.TrimSpace(res.stdout)
}

// cniListing lists the files under /var/lib/cni (the CNI cache go-cni
// keeps), to tell what a suite left there.
func cniListing() string {
	var b strings.Builder
	filepath.WalkDir("/var/lib/cni", func(p string, d os.DirEntry, err error) error {
		if err == nil {
			fmt.Fprintln(&b, p)
		}
		return nil
	})
	return b.String()
}
