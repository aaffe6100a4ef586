package fs

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.pids.

func TestPidsV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}},
			want: []string{"pids/c1/pids.max=100"}},
		{name: "pids unlimited", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want: []string{"pids/c1/pids.max=max"}},
		{name: "pids zero is one", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}},
			want: []string{"pids/c1/pids.max=1"}},
	})
}

func TestPidsV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want: with(enable("pids"), c1+"pids.max=max")},
	})
}

func TestPidsRefused(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-2)}},
			want: "linux.resources.pids.limit: -2 is out of range (a number of tasks, or -1 for none)"},
		{name: "v2 controller missing", v2: true,
			prepare: func(f *fakeTree) { f.File(f.Path("cgroup.controllers"), "cpu memory\n") },
			r:       specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}},
			want:    "linux.resources.pids.limit: the cgroup2 hierarchy has no pids controller (ROOT/cgroup/cgroup.controllers lists: cpu memory)"},
	})
}
