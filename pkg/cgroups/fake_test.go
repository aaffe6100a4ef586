package cgroups

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeTree is a host laid out in a temporary directory: cgroup hierarchies
// whose container directory ("c1", or "pod/c1" on cgroup2) holds regular
// files named like the kernel's, and the host files Set checks values
// against. Set writes into it as into cgroupfs; writes records every write
// (relative to root), as a file keeps only the last one.
type fakeTree struct {
	root   string
	m      *fsManager
	writes []string
}

// v1Files are the files of each fake v1 hierarchy's container directory,
// as on the test VM (kernel 6.18: BFQ's weights only, no leaf weights),
// with the current value where Set reads one. Tests delete what they need
// missing.
var v1Files = map[string]map[string]string{
	"memory": {
		"memory.limit_in_bytes":          "9223372036854771712",
		"memory.memsw.limit_in_bytes":    "9223372036854771712",
		"memory.soft_limit_in_bytes":     "9223372036854771712",
		"memory.kmem.limit_in_bytes":     "9223372036854771712",
		"memory.kmem.tcp.limit_in_bytes": "9223372036854771712",
		"memory.swappiness":              "60",
		"memory.oom_control":             "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
		"memory.use_hierarchy":           "1",
		"memory.usage_in_bytes":          "8388608",
		"memory.memsw.usage_in_bytes":    "8388608",
	},
	"cpu": {
		"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
		"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
	},
	"cpuset":  {"cpuset.cpus": "0-3", "cpuset.mems": "0"},
	"pids":    {"pids.max": "max"},
	"devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm"},
	"freezer": {"freezer.state": "THAWED"},
	"blkio": {
		"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "",
		"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
		"blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
	},
	"hugetlb": {
		"hugetlb.2MB.limit_in_bytes": "", "hugetlb.2MB.rsvd.limit_in_bytes": "",
		"hugetlb.1GB.limit_in_bytes": "", // no rsvd file: it is optional
	},
	"net_cls":  {"net_cls.classid": "0"},
	"net_prio": {"net_prio.ifpriomap": ""},
	"rdma":     {"rdma.max": ""},
	// The unified mount of a hybrid host; its parent's subtree_control is
	// written below.
	"": {"cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 0\n", "cgroup.procs": ""},
}

// v2Files are the files of the fake cgroup2 container directory.
var v2Files = map[string]string{
	"memory.max": "max", "memory.swap.max": "max", "memory.low": "0",
	"memory.current": "8388608", "memory.swap.current": "1048576",
	"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
	"cpu.weight":    "100", "cpu.max": "50000 100000", "cpu.max.burst": "0", "cpu.idle": "0",
	"cpuset.cpus": "", "cpuset.mems": "",
	"pids.max":  "max",
	"io.weight": "default 100", "io.max": "",
	"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.1GB.max": "max",
	"rdma.max":      "",
	"cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 0\n", "cgroup.procs": "",
	"cgroup.subtree_control": "",
}

// newFakeV1 makes a hybrid host: a v1 hierarchy per key of v1Files (the
// unified mount among them), with the container at /c1.
func newFakeV1(t *testing.T) *fakeTree {
	t.Helper()
	f := &fakeTree{root: t.TempDir()}
	var hs []hierarchy
	for _, ctrl := range slices.Sorted(maps.Keys(v1Files)) {
		name := ctrl
		if ctrl == "" {
			name = "unified"
		}
		mp := filepath.Join(f.root, "cgroup", name)
		hs = append(hs, hierarchy{mountpoint: mp, root: "/", keys: []string{ctrl}})
		f.files(filepath.Join(mp, "c1"), v1Files[ctrl])
	}
	f.file(filepath.Join(f.root, "cgroup/unified/cgroup.subtree_control"), "")
	f.file(filepath.Join(f.root, "cgroup/unified/cgroup.controllers"), "hugetlb")
	f.manager(t, hs, "/c1")
	return f
}

// newFakeV2 makes a pure cgroup2 host with the container at /pod/c1, so
// that Set enables controllers on two levels.
func newFakeV2(t *testing.T) *fakeTree {
	t.Helper()
	f := &fakeTree{root: t.TempDir()}
	mp := filepath.Join(f.root, "cgroup")
	f.file(filepath.Join(mp, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc")
	f.file(filepath.Join(mp, "cgroup.subtree_control"), "")
	f.file(filepath.Join(mp, "pod/cgroup.subtree_control"), "")
	f.files(filepath.Join(mp, "pod/c1"), v2Files)
	f.manager(t, []hierarchy{{mountpoint: mp, root: "/", keys: []string{""}}}, "/pod/c1")
	return f
}

func (f *fakeTree) manager(t *testing.T, hs []hierarchy, path string) {
	t.Helper()
	m, err := newManager(hs, path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(f.root, "host")
	f.file(filepath.Join(host, "cpu-online"), "0-3\n")
	f.file(filepath.Join(host, "node-online"), "0\n")
	for _, d := range []string{"hugepages-2048kB", "hugepages-1048576kB"} {
		if err := os.MkdirAll(filepath.Join(host, "hugepages", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.host = &hostFiles{
		cpuOnline:  filepath.Join(host, "cpu-online"),
		nodeOnline: filepath.Join(host, "node-online"),
		hugepages:  filepath.Join(host, "hugepages"),
	}
	m.record = func(path, value string) {
		rel, _ := filepath.Rel(filepath.Join(f.root, "cgroup"), path)
		f.writes = append(f.writes, rel+"="+value)
	}
	f.m = m
}

func (f *fakeTree) files(dir string, files map[string]string) {
	for name, content := range files {
		f.file(filepath.Join(dir, name), content)
	}
}

func (f *fakeTree) file(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

// path is a file of the fake tree by its path below the cgroup mounts
// ("memory/c1/memory.limit_in_bytes").
func (f *fakeTree) path(rel string) string { return filepath.Join(f.root, "cgroup", rel) }

func (f *fakeTree) read(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(f.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// snapshot is every file of the tree and its content.
func (f *fakeTree) snapshot(t *testing.T) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		snap[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// checkLastWrites fails unless each file written holds its last write.
func (f *fakeTree) checkLastWrites(t *testing.T) {
	t.Helper()
	last := map[string]string{}
	for _, w := range f.writes {
		path, value, _ := strings.Cut(w, "=")
		last[path] = value
	}
	for path, value := range last {
		if got := f.read(t, path); got != value {
			t.Errorf("%s holds %q, want the last write %q", path, got, value)
		}
	}
}
