package intelrdt

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeRoot is a resctrl tree as the kernel shows it, in a temporary
// directory: info/<name> for each feature, the root group's schemata and
// tasks.
func fakeRoot(t *testing.T, info ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range info {
		if err := os.MkdirAll(filepath.Join(root, "info", n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "info"), 0o755)
	writeFile(t, filepath.Join(root, "info", "last_cmd_status"), "ok\n")
	writeFile(t, filepath.Join(root, "schemata"), "    L3:0=fffff;1=fffff\n    MB:0=100;1=100\n")
	writeFile(t, filepath.Join(root, "tasks"), "1\n")
	os.Mkdir(filepath.Join(root, "mon_groups"), 0o755)
	return root
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// kernelRmdir empties the plain directory dir of the files the kernel's
// rmdir of a resctrl group would take with it.
func kernelRmdir(t *testing.T, dir string) {
	t.Helper()
	for _, n := range []string{"tasks", "schemata"} {
		os.Remove(filepath.Join(dir, n))
	}
}

func TestCheck(t *testing.T) {
	all := fakeRoot(t, "L3", "MB", "L3_MON")
	none := fakeRoot(t)
	tests := []struct {
		root string
		r    specs.LinuxIntelRdt
		want string
	}{
		{all, specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f", MemBwSchema: "MB:0=20", EnableMonitoring: true}, ""},
		{none, specs.LinuxIntelRdt{ClosID: "x", Schemata: []string{"L2:0=1"}}, ""},
		{none, specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f"}, "linux.intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled (no info/L3 in " + none + ")"},
		{none, specs.LinuxIntelRdt{MemBwSchema: "MB:0=20"}, "linux.intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled (no info/MB in " + none + ")"},
		{none, specs.LinuxIntelRdt{EnableMonitoring: true}, "linux.intelRdt.enableMonitoring is specified in config, but Intel RDT monitoring is not enabled (no info/*_MON in " + none + ")"},
	}
	for _, tt := range tests {
		err := Check(tt.root, &tt.r)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
			t.Errorf("Check(%+v) = %v, want %q", tt.r, err, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		r    specs.LinuxIntelRdt
		want Group
	}{
		{specs.LinuxIntelRdt{}, Group{Root: "/rd", Path: "/rd/c1", Remove: true}},
		{specs.LinuxIntelRdt{EnableMonitoring: true}, Group{Root: "/rd", Path: "/rd/c1", MonPath: "/rd/c1/mon_groups/c1", Remove: true}},
		{specs.LinuxIntelRdt{ClosID: "gold"}, Group{Root: "/rd", Path: "/rd/gold"}},
		{specs.LinuxIntelRdt{ClosID: "/", EnableMonitoring: true}, Group{Root: "/rd", Path: "/rd", MonPath: "/rd/mon_groups/c1"}},
	} {
		if got := Plan("/rd", "c1", &tt.r); *got != tt.want {
			t.Errorf("Plan(%+v) = %+v, want %+v", tt.r, *got, tt.want)
		}
	}
}

// TestNewGroup: a group named by the container, made, written, entered
// and removed.
func TestNewGroup(t *testing.T) {
	root := fakeRoot(t, "L3", "MB")
	r := &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f0", MemBwSchema: "MB:0=20", Schemata: []string{"L2:0=3", "L3:1=f"}}
	g := Plan(root, "c1", r)
	if err := g.Create(r); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(root, "c1", "schemata")), "L3:0=f0\nMB:0=20\nL2:0=3\nL3:1=f\n"; got != want {
		t.Errorf("schemata %q, want %q", got, want)
	}
	if !g.Remove {
		t.Error("a group rt made is not marked for removal")
	}
	if err := g.Enter(4242); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "c1", "tasks")); got != "4242" {
		t.Errorf("tasks %q, want 4242", got)
	}
	kernelRmdir(t, g.Path)
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group left: %v", err)
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestExistingGroup: a closID group that exists is joined as it is when
// its schemata match (however the kernel pads them), refused when they do
// not, never written or removed; the MON group is the container's.
func TestExistingGroup(t *testing.T) {
	root := fakeRoot(t, "L3", "MB", "L3_MON")
	gold := filepath.Join(root, "gold")
	os.MkdirAll(filepath.Join(gold, "mon_groups"), 0o755)
	const schemata = "    L3:0=000f0;1=fffff\n    MB:0= 20;1=100\n"
	writeFile(t, filepath.Join(gold, "schemata"), schemata)

	r := &specs.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=F0", MemBwSchema: "MB:0=20", EnableMonitoring: true}
	g := Plan(root, "c1", r)
	if err := g.Create(r); err != nil {
		t.Fatal(err)
	}
	if g.Remove || readFile(t, filepath.Join(gold, "schemata")) != schemata {
		t.Errorf("existing group changed or marked for removal: %+v", g)
	}
	if err := g.Enter(77); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{gold, g.MonPath} {
		if got := readFile(t, filepath.Join(dir, "tasks")); got != "77" {
			t.Errorf("%s/tasks %q, want 77", dir, got)
		}
	}
	kernelRmdir(t, g.MonPath)
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.MonPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MON group left: %v", err)
	}
	if _, err := os.Stat(gold); err != nil {
		t.Errorf("closID group removed: %v", err)
	}

	other := &specs.LinuxIntelRdt{ClosID: "gold", Schemata: []string{"L3:0=ff"}}
	err := Plan(root, "c2", other).Create(other)
	want := `linux.intelRdt: resctrl group ` + gold + ` exists with other schemata (L3:0 is "f0", not "ff"); rt does not change a group it did not make`
	if err == nil || err.Error() != want {
		t.Errorf("other schemata: %v, want %q", err, want)
	}

	// Named by the container id, but there already: not rt's either.
	os.Mkdir(filepath.Join(root, "c3"), 0o755)
	plain := &specs.LinuxIntelRdt{}
	g = Plan(root, "c3", plain)
	if err := g.Create(plain); err != nil || g.Remove {
		t.Errorf("existing c3: %v, remove %v", err, g.Remove)
	}
}

func TestClosIDMustExistWithoutSchemata(t *testing.T) {
	root := fakeRoot(t)
	r := &specs.LinuxIntelRdt{ClosID: "nope"}
	err := Plan(root, "c1", r).Create(r)
	if err == nil || !strings.HasPrefix(err.Error(), `linux.intelRdt.closID "nope": the group must exist when no schema is given: stat `) {
		t.Errorf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "nope")); err == nil {
		t.Error("group made")
	}
}

// TestRootGroup: closID "/" is the default group, never removed.
func TestRootGroup(t *testing.T) {
	root := fakeRoot(t, "L3_MON")
	r := &specs.LinuxIntelRdt{ClosID: "/", EnableMonitoring: true}
	g := Plan(root, "c1", r)
	if err := g.Create(r); err != nil {
		t.Fatal(err)
	}
	if err := g.Enter(9); err != nil {
		t.Fatal(err)
	}
	kernelRmdir(t, g.MonPath)
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "schemata")); err != nil {
		t.Errorf("root group touched: %v", err)
	}
}

// TestRefusalStatus: resctrl's own reason comes with the error.
func TestRefusalStatus(t *testing.T) {
	root := fakeRoot(t, "L3")
	writeFile(t, filepath.Join(root, "info", "last_cmd_status"), "Unknown or unsupported resource name 'L4'\n")
	g := &Group{Root: root, Path: filepath.Join(root, "g")}
	os.MkdirAll(filepath.Join(g.Path, "schemata"), 0o755) // a write fails
	err := g.write("schemata", g.Path, "L4:0=1\n")
	if err == nil || !strings.HasSuffix(err.Error(), "is a directory (last_cmd_status: Unknown or unsupported resource name 'L4')") {
		t.Errorf("error %v", err)
	}
	r := &specs.LinuxIntelRdt{EnableMonitoring: true}
	g = Plan(root, "c1", r)
	err = g.Create(r) // no mon_groups in a group the test made by hand
	if err == nil || !strings.Contains(err.Error(), "linux.intelRdt.enableMonitoring: create MON group") {
		t.Errorf("MON group error %v", err)
	}
}

func TestResctrlMount(t *testing.T) {
	const mi = `22 1 0:21 / /proc rw,nosuid - proc proc rw
35 22 0:31 / /sys/fs/cgroup/cpu rw shared:9 - cgroup cgroup rw,cpu
51 24 0:44 / /mnt/my\040rdt rw,relatime shared:30 - resctrl resctrl rw,mba_MBps
52 24 0:44 / /other rw - resctrl resctrl rw
`
	if got, ok := resctrlMount(strings.NewReader(mi)); !ok || got != "/mnt/my rdt" {
		t.Errorf("resctrlMount = %q, %v", got, ok)
	}
	if _, ok := resctrlMount(strings.NewReader(mi[:strings.Index(mi, "51 ")])); ok {
		t.Error("found resctrl where there is none")
	}
}

func TestParseSchemata(t *testing.T) {
	got := parseSchemata([]string{"    L3:0=000f0;1=FFFFF", "MB:0=  20;1=100", "L3:1=0", "garbage", "L2CODE:0=00"})
	want := map[string]string{"L3:0": "f0", "L3:1": "0", "MB:0": "20", "MB:1": "100", "L2CODE:0": "0"}
	if len(got) != len(want) {
		t.Errorf("parseSchemata = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
