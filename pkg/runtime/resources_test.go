package runtime

import (
	"bytes"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/store"
)

// TestContainerResourcesDevices: create's device rules are deny-all, the
// spec's linux.resources.devices and runc's default allow list, whatever
// linux.devices holds and even with no rules or no resources at all (the
// inherited cgroup allows every device): its nodes are created, not
// allowed, and a FIFO among them (no cgroup rule can name one) does not
// make a rule at all.
func TestContainerResourcesDevices(t *testing.T) {
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	denyAllA := specs.LinuxDeviceCgroup{Allow: false, Type: "a", Access: "rwm"}
	allowFuse := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(10), Minor: i64(229), Access: "rw"}
	u32 := func(v uint32) *uint32 { return &v }
	nodes := []specs.LinuxDevice{
		{Path: "/dev/test3", Type: "p", UID: u32(0), GID: u32(0)},
		{Path: "/dev/tc", Type: "c", Major: 240, Minor: 0},
		{Path: "/dev/tu", Type: "u", Major: 240, Minor: 1},
		{Path: "/dev/tb", Type: "b", Major: 240, Minor: 2},
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
	}
	only := append([]specs.LinuxDeviceCgroup{denyAll}, defaultDeviceRules...)
	tests := []struct {
		name  string
		linux *specs.Linux
		want  []specs.LinuxDeviceCgroup
	}{
		{name: "no linux", linux: nil, want: only},
		{name: "no resources", linux: &specs.Linux{Devices: nodes}, want: only},
		{name: "no device rules",
			linux: &specs.Linux{Devices: nodes, Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}}},
			want:  only},
		{name: "allows only: deny-all first still",
			linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{allowFuse}}},
			want:  append([]specs.LinuxDeviceCgroup{denyAll, allowFuse}, defaultDeviceRules...)},
		{name: "type a deny-all not doubled",
			linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAllA}}},
			want:  append([]specs.LinuxDeviceCgroup{denyAllA}, defaultDeviceRules...)},
		{name: "deny-all, nodes not allowed",
			linux: &specs.Linux{Devices: nodes, Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll}}},
			want:  append([]specs.LinuxDeviceCgroup{denyAll}, defaultDeviceRules...)},
		{name: "a node allowed by its own rule",
			linux: &specs.Linux{Devices: nodes, Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll, allowFuse}}},
			want:  append([]specs.LinuxDeviceCgroup{denyAll, allowFuse}, defaultDeviceRules...)},
		{name: "empty rules: only the defaults",
			linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}}},
			want:  only},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Linux: tt.linux}
			var before []specs.LinuxDeviceCgroup
			if tt.linux != nil && tt.linux.Resources != nil {
				before = slices.Clone(tt.linux.Resources.Devices)
			}
			res := ContainerResources(s)
			if !reflect.DeepEqual(res.Devices, tt.want) {
				t.Errorf("devices =\n%+v\nwant\n%+v", res.Devices, tt.want)
			}
			for _, r := range res.Devices {
				if r.Type != "" && r.Type != "a" && r.Type != "b" && r.Type != "c" {
					t.Errorf("rule %+v: type %q is no cgroup device type", r, r.Type)
				}
			}
			if tt.linux != nil && tt.linux.Resources != nil && !reflect.DeepEqual(tt.linux.Resources.Devices, before) {
				t.Errorf("the spec's rules changed: %+v, were %+v", tt.linux.Resources.Devices, before)
			}
		})
	}
}

// TestDefaultDeviceRulesAreRuncs: the default allow list is runc's, rule
// for rule (libcontainer/specconv AllowedDevices, as runc 1.1.5 writes it
// to devices.list), and no more: every other device, the host's console
// (c 5:1) among them, needs a rule of the spec.
func TestDefaultDeviceRulesAreRuncs(t *testing.T) {
	want := []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"}
	var got []string
	num := func(n *int64) string {
		if n == nil {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	for _, r := range defaultDeviceRules {
		if !r.Allow {
			t.Errorf("rule %+v denies", r)
		}
		got = append(got, r.Type+" "+num(r.Major)+":"+num(r.Minor)+" "+r.Access)
	}
	if !slices.Equal(got, want) {
		t.Errorf("default rules %q, want runc's %q", got, want)
	}
}

// TestDropIgnoredWarnsOnce: create drops the deprecated kernel memory
// limits from the recorded spec with one warning naming them, and leaves a
// spec without them as it is, with no warning.
func TestDropIgnoredWarnsOnce(t *testing.T) {
	tests := []struct {
		name     string
		mem      *specs.LinuxMemory
		wantMem  *specs.LinuxMemory
		wantWarn string // "" for no record
	}{
		{name: "no memory", mem: nil, wantMem: nil},
		{name: "no kernel memory", mem: &specs.LinuxMemory{Limit: i64(1 << 20)}, wantMem: &specs.LinuxMemory{Limit: i64(1 << 20)}},
		{name: "kernel and kernelTCP",
			mem:      &specs.LinuxMemory{Limit: i64(1 << 20), Kernel: i64(1 << 20), KernelTCP: i64(0)},
			wantMem:  &specs.LinuxMemory{Limit: i64(1 << 20)},
			wantWarn: `level=WARN msg="deprecated in the runtime spec and ignored: linux.resources.memory.kernel, linux.resources.memory.kernelTCP" id=c1`},
		{name: "kernelTCP",
			mem:      &specs.LinuxMemory{KernelTCP: i64(1 << 20)},
			wantMem:  &specs.LinuxMemory{},
			wantWarn: `level=WARN msg="deprecated in the runtime spec and ignored: linux.resources.memory.kernelTCP" id=c1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := &Runtime{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))}
			s := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Memory: tt.mem, Pids: &specs.LinuxPids{Limit: i64(5)}}}}
			st := &store.State{ID: "c1", Spec: store.RecordSpec(s)}
			if err := r.dropIgnored(st); err != nil {
				t.Fatal(err)
			}
			res, err := st.Spec.Resources()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Memory, tt.wantMem) || res.Pids == nil || *res.Pids.Limit != 5 {
				t.Errorf("recorded resources = %+v (memory %+v), want memory %+v and the pids limit kept", res, res.Memory, tt.wantMem)
			}
			if got := strings.TrimSpace(buf.String()); got != tt.wantWarn {
				t.Errorf("log = %q, want %q", got, tt.wantWarn)
			}
		})
	}
}

// TestMergeResourcesSkipsKernelMemory: update records what it applied;
// kernel memory is never applied, so never recorded, and the rest is.
func TestMergeResourcesSkipsKernelMemory(t *testing.T) {
	dst := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}
	mergeResources(dst, &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1), KernelTCP: i64(2), Reservation: i64(3)}})
	want := &specs.LinuxMemory{Limit: i64(1 << 20), Reservation: i64(3)}
	if !reflect.DeepEqual(dst.Memory, want) {
		t.Errorf("merged memory = %+v, want %+v", dst.Memory, want)
	}
}

// TestNewCgroupsParent: with the cgroupfs driver every directory of a new
// container is below cgroup-parent (New only computes them: nothing is
// made); the systemd driver refuses a parent before it asks systemd.
func TestNewCgroupsParent(t *testing.T) {
	tests := []struct {
		name, driver, parent, path string
		wantSuffix                 string // of every directory
		wantErr                    string
	}{
		{name: "no parent", driver: "cgroupfs", path: "/a/c1", wantSuffix: "/a/c1"},
		{name: "parent, empty path", driver: "cgroupfs", parent: "/rt-p", wantSuffix: "/rt-p/c1"},
		{name: "parent, absolute path", driver: "cgroupfs", parent: "/rt-p", path: "/a/c1", wantSuffix: "/rt-p/a/c1"},
		{name: "default driver, parent", parent: "/rt-p", wantSuffix: "/rt-p/c1"},
		{name: "parent, path is the parent", driver: "cgroupfs", parent: "/rt-p", path: "/", wantErr: "is the parent itself"},
		{name: "systemd refuses a parent", driver: "systemd", parent: "/rt-p", path: "system.slice:rt:c1",
			wantErr: "cgroup driver systemd with cgroup-parent /rt-p: cgroup-parent applies to the cgroupfs driver only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runtime{cfg: api.GlobalConfig{CgroupDriver: tt.driver, CgroupParent: tt.parent}, log: slog.New(slog.DiscardHandler)}
			st := &store.State{ID: "c1", Spec: store.RecordSpec(&specs.Spec{Linux: &specs.Linux{}})}
			cg, err := r.NewCgroups(st, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			paths := cg.Paths()
			if len(paths) == 0 {
				t.Skip("no cgroup hierarchy mounted")
			}
			for k, dir := range paths {
				if !strings.HasPrefix(dir, "/sys/fs/cgroup") || !strings.HasSuffix(dir, tt.wantSuffix) {
					t.Errorf("%q: %s, want a directory ending in %s", k, dir, tt.wantSuffix)
				}
			}
		})
	}
}
