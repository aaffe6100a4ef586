package lifecycle_test

// linux.devices: nodes the runtime creates in the container, each of the
// runtime-spec's types (c, u, b, p) with its mode and owner. Creating a
// node grants nothing: whether it can be opened is up to
// linux.resources.devices and the runtime's default allow list, as in runc.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

// devTestMajor is a char and block device major with no driver behind it
// (240-254 are for local/experimental use): opening a node of it fails
// with ENXIO when the cgroup allows it and EPERM when the cgroup denies it,
// which is what tells the two apart, and opens nothing on the host.
const devTestMajor = 240

// devNodes are device nodes for linux.devices: a char device of
// devTestMajor, the same as "u" and a block device, each with its own mode
// and owner. The container's root (without CAP_DAC_OVERRIDE in the default
// spec) may write each by its mode.
func devNodes() []specs.LinuxDevice {
	return []specs.LinuxDevice{
		{Path: "/dev/tc", Type: "c", Major: devTestMajor, Minor: 0, FileMode: cfgPtr[os.FileMode](0o666), UID: cfgPtr[uint32](1000), GID: cfgPtr[uint32](5)},
		{Path: "/dev/tu", Type: "u", Major: devTestMajor, Minor: 1, FileMode: cfgPtr[os.FileMode](0o640)},
		{Path: "/dev/sub/tb", Type: "b", Major: devTestMajor, Minor: 2, FileMode: cfgPtr[os.FileMode](0o640), UID: cfgPtr[uint32](0), GID: cfgPtr[uint32](1000)},
	}
}

// devFIFO is a FIFO for linux.devices, as the runtime-spec allows one:
// major and minor mean nothing for it.
var devFIFO = specs.LinuxDevice{Path: "/dev/test3", Type: "p", FileMode: cfgPtr[os.FileMode](0o660), UID: cfgPtr[uint32](0), GID: cfgPtr[uint32](0)}

// devOpenScript prints "<path>=<result>" for a write-open of each path:
// ok, or the shell's error (its strerror text).
const devOpenScript = `for d in "$@"; do
	if err=$( (echo x > "$d") 2>&1 ); then echo "$d=ok"; else echo "$d=${err##*: }"; fi
done`

const (
	eperm = "Operation not permitted"
	enxio = "No such device or address"
)

// TestConfigDevicesCreated: every linux.devices entry is created with its
// type, numbers, mode and owner, a FIFO among them (which once failed create
// with `linux.resources.devices[15].type: "p" is not a, b or c`, as every
// entry became a cgroup rule), and a FIFO works as one.
func TestConfigDevicesCreated(t *testing.T) {
	r := runner(t)
	// stat prints the numbers in hex: f0 is 240.
	script := `for d in /dev/test3 /dev/tc /dev/tu /dev/sub/tb; do echo "$d=$(stat -c '%F %a %u %g %t:%T' "$d")"; done
echo through-the-fifo > /dev/test3 & read line < /dev/test3; echo "fifo=$line"`
	b := bundle(t, sh(script), func(s *specs.Spec) { s.Linux.Devices = append(devNodes(), devFIFO) })
	got := cfgValues(cfgRun(t, r, "devnodes", b), "=")
	cfgWant(t, got, map[string]string{
		"/dev/test3":  "fifo 660 0 0 0:0",
		"/dev/tc":     "character special file 666 1000 5 f0:0",
		"/dev/tu":     "character special file 640 0 0 f0:1",
		"/dev/sub/tb": "block special file 640 0 1000 f0:2",
		"fifo":        "through-the-fifo",
	})
}

// devOpened runs devOpenScript on paths inside container id and returns
// what it printed, by path.
func devOpened(t *testing.T, r *harness.Runner, id string, paths ...string) map[string]string {
	t.Helper()
	res := r.RT(append([]string{"exec", id, "sh", "-c", devOpenScript, "sh"}, paths...)...)
	if res.Code != 0 {
		t.Fatalf("exec in %s: %s", id, res)
	}
	return cfgValues(res.Stdout, "=")
}

// devNodesOpened is what opening /dev/null and the nodes of devNodes gives.
func devNodesOpened(t *testing.T, r *harness.Runner, id string) map[string]string {
	t.Helper()
	return devOpened(t, r, id, "/dev/null", "/dev/tc", "/dev/tu", "/dev/sub/tb")
}

// devStart runs a detached container of the devNodes with the device rules
// rules; it is deleted and checked for traces at cleanup.
func devStart(t *testing.T, r *harness.Runner, prefix string, rules []specs.LinuxDeviceCgroup) string {
	t.Helper()
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.Devices = devNodes()
		s.Linux.Resources.Devices = rules
	})
	id := harness.ID(prefix)
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	return id
}

// TestConfigDevicesNoResources: a config with no linux.resources at all
// still gets the default allow-list: with CAP_MKNOD its process cannot open
// a node it makes of a host device outside that list (rt left the
// inherited allow-all before, and the container could write to the host's
// kernel log through /dev/kmsg, c 1:11; runc denies).
func TestConfigDevicesNoResources(t *testing.T) {
	r := runner(t)
	script := `mknod /tmp/kmsg c 1 11 && { echo "rt devices test" >/tmp/kmsg; } 2>/tmp/err; echo "kmsg=$(cat /tmp/err)"`
	b := bundle(t, sh(script), func(s *specs.Spec) {
		s.Linux.Resources = nil
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_MKNOD")
		c.Effective = append(c.Effective, "CAP_MKNOD")
		c.Permitted = append(c.Permitted, "CAP_MKNOD")
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"dev"}})
	})
	got := cfgValues(cfgRun(t, r, "devnores", b), "=")
	if !strings.Contains(got["kmsg"], "Operation not permitted") {
		t.Errorf("writing to a /dev/kmsg node from a container without linux.resources: %q, want EPERM", got["kmsg"])
	}
}

var (
	denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	// allowTC allows /dev/tc of devNodes, c 240:0.
	allowTC = specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: cfgPtr[int64](devTestMajor), Minor: cfgPtr[int64](0), Access: "rw"}
)

// TestConfigDevicesNotAllowedByCreating: a node in linux.devices can be
// opened only if linux.resources.devices (or the default allow list: null,
// zero, full, random, urandom, tty, ptmx, pts, tun) allows it. Behind a
// deny-all every node of devNodes is refused with EPERM; a rule for one of
// them lets only that one through to the driver (ENXIO). rt once made an
// allow rule of every linux.devices entry, so all of them reached the
// driver; runc 1.1.5 refuses them.
func TestConfigDevicesNotAllowedByCreating(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  map[string]string
	}{
		{"deny-all", []specs.LinuxDeviceCgroup{denyAll},
			map[string]string{"/dev/null": "ok", "/dev/tc": eperm, "/dev/tu": eperm, "/dev/sub/tb": eperm}},
		{"deny-all, allow c 240:0", []specs.LinuxDeviceCgroup{denyAll, allowTC},
			map[string]string{"/dev/null": "ok", "/dev/tc": enxio, "/dev/tu": eperm, "/dev/sub/tb": eperm}},
		// As runc: the rules are an allow-list whether or not they begin
		// with deny-all, and with none at all only the defaults are open
		// (the inherited cgroup would allow every device).
		{"allow c 240:0 only", []specs.LinuxDeviceCgroup{allowTC},
			map[string]string{"/dev/null": "ok", "/dev/tc": enxio, "/dev/tu": eperm, "/dev/sub/tb": eperm}},
		{"no rules", nil,
			map[string]string{"/dev/null": "ok", "/dev/tc": eperm, "/dev/tu": eperm, "/dev/sub/tb": eperm}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := devStart(t, r, "devgate", tc.rules)
			cfgWant(t, devNodesOpened(t, r, id), tc.want)
		})
	}
}

// TestUpdateDevicesNotAllowedByCreating: update builds its device rules as
// create does, from the rules given and the default allow list only. An
// update without device rules leaves them as they are; one with rules
// replaces them, and a linux.devices node stays refused unless they allow
// it.
func TestUpdateDevicesNotAllowedByCreating(t *testing.T) {
	r := runner(t)
	id := devStart(t, r, "devupd", []specs.LinuxDeviceCgroup{denyAll, allowTC})
	if res := r.RT("update", "--pids-limit", "100", id); res.Code != 0 {
		t.Fatalf("update --pids-limit: %s", res)
	}
	cfgWant(t, devNodesOpened(t, r, id), map[string]string{"/dev/null": "ok", "/dev/tc": enxio, "/dev/tu": eperm, "/dev/sub/tb": eperm})
	if harness.Compared != "" {
		t.Skip("runc 1.1.5's update ignores device rules")
	}
	f := harness.TempFile(t)
	f.WriteString(`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":240,"minor":1,"access":"rw"}]}`)
	if res := r.RT("update", "--resources", f.Name(), id); res.Code != 0 {
		t.Fatalf("update --resources (devices): %s", res)
	}
	cfgWant(t, devNodesOpened(t, r, id), map[string]string{"/dev/null": "ok", "/dev/tc": eperm, "/dev/tu": enxio, "/dev/sub/tb": eperm})
}

// TestConfigDevicesDefaultAllowList: behind a deny-all the container's
// device cgroup allows runc 1.1.5's default list and nothing else (rt once
// also allowed c 5:1, the host's console, which runc does not: a
// container's /dev/console is its terminal's pty, c 136:*).
func TestConfigDevicesDefaultAllowList(t *testing.T) {
	r := runner(t)
	const list = "/sys/fs/cgroup/devices/devices.list"
	b := bundle(t, sh("cat "+list+" || echo no-v1-devices"), func(s *specs.Spec) {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{denyAll}
	})
	out := cfgRun(t, r, "devlist", b)
	if strings.Contains(out, "no-v1-devices") {
		t.Skip("no v1 devices hierarchy in the container (a cgroup2 host's rules are an eBPF program)")
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("devices.list %q, want runc's %q", got, want)
	}
}

// TestConfigDevicesExistingFile: a linux.devices entry whose path the
// rootfs already has as a file of another kind, or as a device with other
// numbers, fails create with one line naming the path and what is there,
// and the file is left as it was (the spec: the runtime MUST generate an
// error; rt replaced the file). The same device is kept as it is and works.
// The path is outside /dev, which the default spec mounts a tmpfs on; in a
// user namespace, where a device is bound from the host's same path, it is
// /dev/null of a rootfs whose /dev is not a tmpfs.
func TestConfigDevicesExistingFile(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name   string
		userns bool // in a user namespace, where devices are bound from the host
		make   func(path string) error
		want   []string // words of create's error but the path; nil: the container runs
		mode   string   // the node's mode in the container when it runs
	}{
		{"regular file", false, func(p string) error { return os.WriteFile(p, []byte("not a device\n"), 0o644) },
			[]string{"linux.devices", "is a regular file in the rootfs, not character device 1:3"}, ""},
		{"device with other numbers", false, func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))) },
			[]string{"linux.devices", "is character device 1:5 in the rootfs, not character device 1:3"}, ""},
		{"directory", false, func(p string) error { return os.Mkdir(p, 0o755) },
			[]string{"linux.devices", "is a directory in the rootfs"}, ""},
		// Kept as it is: its own mode.
		{"the same device", false, func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o640, int(unix.Mkdev(1, 3))) }, nil, "640"},
		{"regular file, user namespace", true, func(p string) error { return os.WriteFile(p, []byte("not a device\n"), 0o644) },
			[]string{"linux.devices", "is a regular file in the rootfs, not character device 1:3"}, ""},
		// The mount point an earlier bind of the device left: the host's
		// /dev/null is bound on it.
		{"empty regular file, user namespace", true, func(p string) error { return os.WriteFile(p, nil, 0o644) }, nil, "666"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := specs.LinuxDevice{Path: "/mydev/null", Type: "c", Major: 1, Minor: 3, FileMode: cfgPtr[os.FileMode](0o666)}
			if tc.userns {
				dev.Path = "/dev/null"
			}
			script := `echo "node=$(stat -c '%F %t:%T %a' ` + dev.Path + `)"; if echo x > ` + dev.Path + `; then echo write=ok; fi`
			var b string
			if tc.userns {
				b = cfgUserNSBundle(t, sh(script))
			} else {
				b = bundle(t, sh(script), nil)
			}
			harness.EditConfig(t, b, func(s *specs.Spec) {
				s.Linux.Devices = []specs.LinuxDevice{dev}
				if tc.userns {
					s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev" })
				}
			})
			host := filepath.Join(b, "rootfs", dev.Path)
			if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(host); err != nil {
				t.Fatal(err)
			}
			var before unix.Stat_t
			if err := unix.Lstat(host, &before); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				cfgRefused(t, r, "devexist", b, append(tc.want, dev.Path)...)
			} else {
				cfgWant(t, cfgValues(cfgRun(t, r, "devexist", b), "="), map[string]string{
					"node": "character special file 1:3 " + tc.mode, "write": "ok",
				})
			}
			var after unix.Stat_t
			if err := unix.Lstat(host, &after); err != nil || after.Ino != before.Ino || after.Mode != before.Mode || after.Rdev != before.Rdev {
				t.Errorf("rootfs%s: %+v (%v), want it left as it was: %+v", dev.Path, after, err, before)
			}
		})
	}
}
