package fs

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// dev is a block device for the blockIO lists.
func dev(major, minor int64) specs.LinuxBlockIODevice {
	return specs.LinuxBlockIODevice{Major: major, Minor: minor}
}

// setCase is one Set on a fresh fake tree: prepare changes the tree first,
// want is every write in order (paths below the cgroup mounts).
type setCase struct {
	name    string
	prepare func(f *fakeTree)
	r       specs.LinuxResources
	want    []string
}

func runSetCases(t *testing.T, fake func(*testing.T) *fakeTree, tests []setCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			if err := f.m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Writes, tc.want) {
				t.Errorf("writes:\n  %s\nwant:\n  %s", strings.Join(f.Writes, "\n  "), strings.Join(tc.want, "\n  "))
			}
			f.CheckLastWrites(t)
		})
	}
}

// The writes of each controller are in its own _test.go; here is what Set
// does whatever the controller.

// enable is what Set writes on the fake cgroup2 tree to enable ctrls for
// pod/c1, top first.
func enable(ctrls ...string) []string {
	var w []string
	for _, level := range []string{"", "pod/"} {
		for _, c := range ctrls {
			w = append(w, level+"cgroup.subtree_control=+"+c)
		}
	}
	return w
}

// with is a followed by b, a left unchanged.
func with(a []string, b ...string) []string { return append(slices.Clip(a), b...) }

func TestSetV1Writes(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "nil sections write nothing", r: specs.LinuxResources{}, want: nil},
		{name: "zero is unset", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](0), Swap: ptr[int64](0)},
			CPU:    &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0)},
		}, want: nil},
	})
}

func TestSetV2Writes(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "controllers already enabled are left",
			prepare: func(f *fakeTree) {
				f.File(f.Path("cgroup.subtree_control"), "cpu memory pids\n")
				f.File(f.Path("pod/cgroup.subtree_control"), "memory\n")
			},
			r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}, Pids: &specs.LinuxPids{Limit: ptr[int64](9)}},
			want: []string{
				"pod/cgroup.subtree_control=+pids",
				c1 + "memory.max=1048576",
				c1 + "pids.max=9",
			}},
	})
}

// badCase is a Set that must fail before writing anything.
type badCase struct {
	name    string
	v2      bool
	prepare func(f *fakeTree)
	r       specs.LinuxResources
	want    string // the whole error after "cgroups: ", with ROOT for the tree
}

// runBadCases runs each case on a fresh fake tree. Every case also has a
// valid memory limit, so "nothing written" means the check came before
// the first write, not that nothing was asked.
func runBadCases(t *testing.T, tests []badCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeV1
			if tc.v2 {
				fake = newFakeV2
			}
			f := fake(t)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			r := tc.r
			if r.Memory == nil {
				r.Memory = &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}
			}
			before := f.Snapshot(t)
			err := f.m.Set(&r)
			want := "cgroups: " + strings.ReplaceAll(tc.want, "ROOT", f.Root)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant   %s", err, want)
			}
			if len(f.Writes) > 0 {
				t.Errorf("written before the error: %q", f.Writes)
			}
			if after := f.Snapshot(t); !maps.Equal(before, after) {
				t.Error("the tree changed")
			}
		})
	}
}

func TestSetRefusesBeforeWriting(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "before Apply", prepare: func(f *fakeTree) { os.RemoveAll(f.Path("pids/c1")) },
			r:    specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}},
			want: "linux.resources.pids.limit: stat ROOT/cgroup/pids/c1: no such file or directory (Set needs the cgroup Apply makes)"},
	})
}

// On cgroup2 the controllers are enabled before the files are looked for,
// as they appear only then: a missing file fails after that, still before
// any limit is written.
func TestSetV2MissingFileAfterEnabling(t *testing.T) {
	f := newFakeV2(t)
	os.Remove(f.Path("pod/c1/cpu.max.burst"))
	err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr[uint64](10)}})
	want := "cgroups: linux.resources.cpu.burst: " + f.Path("pod/c1/cpu.max.burst") + " does not exist: CPU burst needs Linux 5.14"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
	if want := []string{"cgroup.subtree_control=+cpu", "pod/cgroup.subtree_control=+cpu"}; !slices.Equal(f.Writes, want) {
		t.Errorf("writes = %q, want only %q", f.Writes, want)
	}
}

// A write the kernel refuses names the field, the file and the value; the
// writes before it stay.
func TestSetWriteFailure(t *testing.T) {
	f := newFakeV1(t)
	pids := f.Path("pids/c1/pids.max")
	os.Remove(pids)
	if err := os.Mkdir(pids, 0o755); err != nil { // open for writing fails: EISDIR
		t.Fatal(err)
	}
	err := f.m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](10)},
	})
	want := "cgroups: linux.resources.pids.limit: " + pids + ": write 10: is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
	if want := []string{"memory/c1/memory.limit_in_bytes=1073741824"}; !slices.Equal(f.Writes, want) {
		t.Errorf("writes = %q, want %q", f.Writes, want)
	}
}
