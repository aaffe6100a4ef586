package clients_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// podman is podman with the suite's containers.conf and storage.conf (all
// state under <suite dir>/podman) and the runtime as `--runtime
// <dir>/runtime/runc`: podman passes --log-format=json and --log only to a
// runtime whose file name it knows, and runc is one.
type podman struct {
	dir     string
	runtime string
	env     []string
	// cgroupParent is the --cgroup-parent of every container: its cgroups
	// (libpod-<id>) and conmon's are under a directory of the suite's.
	cgroupParent string
}

func podmanPaths(dir, runtime string) *podman {
	d := filepath.Join(dir, "podman")
	p := &podman{dir: d, runtime: runtime, cgroupParent: "/" + suiteName(dir) + "-podman"}
	p.env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(d, "home"),
		"TMPDIR=" + filepath.Join(d, "tmp"),
		"CONTAINERS_CONF=" + filepath.Join(d, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(d, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(d, "registries.conf"),
	}
	return p
}

// podmanFrom returns the podman of the suite in dir, if it was set up (for
// teardown).
func podmanFrom(dir string) *podman {
	p := podmanPaths(dir, filepath.Join(dir, "runtime", "runc"))
	if _, err := os.Stat(filepath.Join(p.dir, "containers.conf")); err != nil {
		return nil
	}
	return p
}

// podman returns the suite's podman, writing its config and loading the
// image on first use.
func (s *suite) podman(t *testing.T) *podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (make deps installs it)")
	}
	s.pmOnce.Do(func() {
		start := time.Now()
		s.pm, s.pmErr = s.setUpPodman(t)
		t.Logf("podman set up and image loaded in %v", time.Since(start).Round(time.Millisecond))
	})
	if s.pmErr != nil {
		t.Fatalf("podman: %v", s.pmErr)
	}
	return s.pm
}

func (s *suite) setUpPodman(t *testing.T) (*podman, error) {
	p := podmanPaths(s.dir, s.runtime)
	for _, d := range []string{"home", "tmp", "networks", "storage", "run", "libpod-tmp"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(`[containers]
# The sandbox lacks CAP_SYS_RESOURCE: podman's default rlimits for root
# (1048576) cannot be set; these are within the hard limits.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[network]
network_backend = "netavark"
network_config_dir = %q

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
tmp_dir = %q
lock_type = "file"
static_dir = %q
volume_path = %q
image_copy_tmp_dir = "storage"
`, filepath.Join(p.dir, "networks"), filepath.Join(p.dir, "events.log"), filepath.Join(p.dir, "libpod-tmp"),
		filepath.Join(p.dir, "storage", "libpod"), filepath.Join(p.dir, "storage", "volumes"))
	storage := fmt.Sprintf(`[storage]
driver = "vfs"
graphroot = %q
runroot = %q
`, filepath.Join(p.dir, "storage"), filepath.Join(p.dir, "run"))
	files := map[string]string{"containers.conf": conf, "storage.conf": storage, "registries.conf": ""}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(p.dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	// podman load unpacks the archive in /var/tmp and records the blobs in
	// /var/lib/containers/cache/blob-info-cache-v1.boltdb, whatever its
	// configuration says: it runs in a mount namespace of its own where
	// both are empty tmpfs.
	hide := `mount -t tmpfs tmpfs /var/tmp && if [ -d /var/lib/containers ]; then mount -t tmpfs tmpfs /var/lib/containers; else mount -t tmpfs tmpfs /var/lib; fi && exec "$@"`
	args := append([]string{"--mount", "--propagation", "private", "sh", "-c", hide, "sh", "podman"}, p.globals()...)
	res := runCmd(t, cmdOpts{env: p.env, timeout: 120 * time.Second}, "unshare", append(args, "load", "-i", s.image)...)
	if res.code != 0 {
		return nil, fmt.Errorf("load: %s", res)
	}
	if !strings.Contains(res.out(), imageName) {
		return nil, fmt.Errorf("load did not name the image %s: %s", imageName, res)
	}
	return p, nil
}

// globals are the flags given to every podman command.
func (p *podman) globals() []string {
	return []string{"--runtime", p.runtime, "--cgroup-manager", "cgroupfs"}
}

// podman runs `podman <globals> args...` in the suite's environment.
func (p *podman) podman(t testing.TB, o cmdOpts, args ...string) result {
	t.Helper()
	o.env = p.env
	return runCmd(t, o, "podman", append(p.globals(), args...)...)
}

// ctr is a podman container of a test: its name and, once known, its id.
type pctr struct {
	name    string
	cidfile string
}

// id reads the container's id from its --cidfile.
func (c *pctr) id(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(c.cidfile)
	if err != nil {
		t.Fatalf("cidfile of %s: %v", c.name, err)
	}
	return strings.TrimSpace(string(data))
}

// newCtr names a container for t, removes it at cleanup (podman rm -f) and
// checks that nothing of it is left.
func (p *podman) newCtr(t *testing.T, prefix string) *pctr {
	t.Helper()
	c := &pctr{name: fmt.Sprintf("%s-%s", prefix, uniq()), cidfile: filepath.Join(t.TempDir(), "cid")}
	t.Cleanup(func() {
		// podman rm races its own cleanup process (conmon's exit command)
		// now and then: "unlinkat …/userdata/shm: device or resource
		// busy", with runc too. A second try succeeds.
		var res result
		for try := 0; try < 3; try++ {
			if res = p.podman(t, cmdOpts{timeout: 30 * time.Second}, "rm", "--force", "--time", "0", "--ignore", c.name); res.code == 0 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if res.code != 0 {
			t.Errorf("cleanup: %s", res)
		}
		data, err := os.ReadFile(c.cidfile)
		if id := strings.TrimSpace(string(data)); err == nil && id != "" {
			p.assertNoTrace(t, id)
		}
	})
	return c
}

// runFlags are the flags of every `podman run` or `podman create`: the
// container's name and cidfile, no network unless flags name one (always
// another container's), and the suite's cgroup parent.
func (p *podman) runFlags(c *pctr, flags []string) []string {
	out := []string{"--name", c.name, "--cidfile", c.cidfile, "--cgroup-parent", p.cgroupParent}
	for _, f := range flags {
		if f == "--network" || f == "--net" || strings.HasPrefix(f, "--network=") {
			return out
		}
	}
	return append(out, "--network", "none")
}

// run is `podman run <runFlags> <flags> <image> <cmd...>`.
func (p *podman) run(t *testing.T, o cmdOpts, c *pctr, flags []string, cmd ...string) result {
	t.Helper()
	args := append([]string{"run"}, p.runFlags(c, flags)...)
	args = append(args, flags...)
	args = append(args, imageName)
	return p.podman(t, o, append(args, cmd...)...)
}

// create is `podman create <runFlags> <flags> <image> <cmd...>`.
func (p *podman) create(t *testing.T, c *pctr, flags []string, cmd ...string) result {
	t.Helper()
	args := append([]string{"create"}, p.runFlags(c, flags)...)
	args = append(args, flags...)
	args = append(args, imageName)
	return p.podman(t, cmdOpts{}, append(args, cmd...)...)
}

// assertNoTrace: no cgroup dir of the container id and no state dir of it
// in the runtime's root (podman's runc root is <runroot>/../runc or
// /run/runc; both are checked).
func (p *podman) assertNoTrace(t *testing.T, id string) {
	t.Helper()
	var dirs []string
	for i := 0; i < 50; i++ {
		if dirs = harness.CgroupDirsOf(id); len(dirs) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(dirs) > 0 {
		t.Errorf("cgroup dirs of %s left: %v", id, dirs)
	}
	for _, root := range p.runtimeRoots() {
		if _, err := os.Stat(filepath.Join(root, id)); err == nil {
			t.Errorf("the runtime's state dir of %s is left in %s", id, root)
		}
	}
}

// runtimeRoots are the directories podman may pass as the runtime's --root.
func (p *podman) runtimeRoots() []string {
	return []string{filepath.Join(p.dir, "run", "runc"), filepath.Join(p.dir, "libpod-tmp", "runc"), "/run/runc", "/run/rt"}
}

// teardown removes every container, pod and image of the suite's podman.
func (p *podman) teardown() []string {
	var problems []string
	tb := harness.QuietTB{}
	if res := p.podman(tb, cmdOpts{timeout: 10 * time.Second}, "ps", "-aq"); res.code == 0 && strings.TrimSpace(res.stdout) != "" {
		problems = append(problems, "podman containers left: "+strings.Join(strings.Fields(res.stdout), " "))
	}
	for _, args := range [][]string{
		{"rm", "--all", "--force", "--time", "0"},
		{"pod", "rm", "--all", "--force"},
		{"rmi", "--all", "--force"},
	} {
		if res := p.podman(tb, cmdOpts{timeout: 60 * time.Second}, args...); res.code != 0 {
			problems = append(problems, res.String())
		}
	}
	return problems
}
