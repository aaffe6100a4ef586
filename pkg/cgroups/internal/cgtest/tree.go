// Package cgtest holds the test fixtures the cgroup drivers' tests share:
// fake cgroup trees on disk, and helpers for tests on the host's real
// cgroups.
package cgtest

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/cgroups"
)

// Tree is a host laid out in a temporary directory: cgroup hierarchies
// below Root/cgroup whose directories hold regular files named like the
// kernel's, and the host files Set checks values against. Record keeps
// every write (relative to Root/cgroup) in Writes, as a file keeps only
// the last one.
type Tree struct {
	Root   string
	Writes []string
	// The host files: online CPUs (0-3), online memory nodes (0), and a
	// directory per huge page size (2MB, 1GB).
	CPUOnline, NodeOnline, Hugepages string
}

// V1Files are the files of each fake v1 hierarchy's container directory,
// as on the test VM (kernel 6.18: BFQ's weights only, no leaf weights),
// with the current value where Set reads one. Tests delete what they need
// missing.
var V1Files = map[string]map[string]string{
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
	// the fake's to write.
	"": {"cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 0\n", "cgroup.procs": ""},
}

// V2Files are the files of a fake cgroup2 container directory.
var V2Files = map[string]string{
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

// NewTree makes an empty tree with the host files.
func NewTree(t *testing.T) *Tree {
	t.Helper()
	f := &Tree{Root: t.TempDir()}
	host := filepath.Join(f.Root, "host")
	f.CPUOnline, f.NodeOnline, f.Hugepages = filepath.Join(host, "cpu-online"), filepath.Join(host, "node-online"), filepath.Join(host, "hugepages")
	f.File(f.CPUOnline, "0-3\n")
	f.File(f.NodeOnline, "0\n")
	for _, d := range []string{"hugepages-2048kB", "hugepages-1048576kB"} {
		if err := os.MkdirAll(filepath.Join(f.Hugepages, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// V1Mounts are the hierarchies of a hybrid host, one per key of V1Files
// (the unified mount among them, as "unified"); it makes no directory.
func (f *Tree) V1Mounts() []cgroups.Mount {
	var hs []cgroups.Mount
	for _, ctrl := range slices.Sorted(maps.Keys(V1Files)) {
		name := ctrl
		if ctrl == "" {
			name = "unified"
		}
		hs = append(hs, cgroups.Mount{Mountpoint: f.Path(name), Root: "/", Keys: []string{ctrl}})
	}
	return hs
}

// Record notes a write of value to path.
func (f *Tree) Record(path, value string) {
	rel, _ := filepath.Rel(filepath.Join(f.Root, "cgroup"), path)
	f.Writes = append(f.Writes, rel+"="+value)
}

// Files writes files into dir.
func (f *Tree) Files(dir string, files map[string]string) {
	for name, content := range files {
		f.File(filepath.Join(dir, name), content)
	}
}

// File writes content to path, making its directory.
func (f *Tree) File(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

// Path is a file of the tree by its path below the cgroup mounts
// ("memory/c1/memory.limit_in_bytes").
func (f *Tree) Path(rel string) string { return filepath.Join(f.Root, "cgroup", rel) }

// Read is the content of Path(rel).
func (f *Tree) Read(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(f.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Snapshot is every file of the tree and its content.
func (f *Tree) Snapshot(t *testing.T) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(f.Root, func(p string, d fs.DirEntry, err error) error {
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

// CheckLastWrites fails unless each file written holds its last write.
func (f *Tree) CheckLastWrites(t *testing.T) {
	t.Helper()
	last := map[string]string{}
	for _, w := range f.Writes {
		path, value, _ := strings.Cut(w, "=")
		last[path] = value
	}
	for path, value := range last {
		if got := f.Read(t, path); got != value {
			t.Errorf("%s holds %q, want the last write %q", path, got, value)
		}
	}
}
