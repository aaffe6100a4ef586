package fs

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.unified, on a hybrid host's unified mount and on cgroup2.

func TestUnifiedV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "unified on a hybrid host, controller enabled there",
			prepare: func(f *fakeTree) {
				f.File(f.Path("unified/cgroup.subtree_control"), "hugetlb\n")
				f.File(f.Path("unified/c1/hugetlb.2MB.max"), "max")
			},
			r:    specs.LinuxResources{Unified: map[string]string{"hugetlb.2MB.max": "1048576"}},
			want: []string{"unified/c1/hugetlb.2MB.max=1048576"}},
		{name: "unified core file on a hybrid host",
			r:    specs.LinuxResources{Unified: map[string]string{"cgroup.freeze": "0"}},
			want: []string{"unified/c1/cgroup.freeze=0"}},
	})
}

func TestUnifiedV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "unified enables the key's controller; one write a line",
			prepare: func(f *fakeTree) { f.File(f.Path(c1+"memory.high"), "max") },
			r: specs.LinuxResources{Unified: map[string]string{
				"memory.high": "1073741824", "io.max": "8:0 rbps=1\n8:16 wbps=2\n", "cgroup.freeze": "0",
			}},
			want: []string{
				"cgroup.subtree_control=+io", "cgroup.subtree_control=+memory",
				"pod/cgroup.subtree_control=+io", "pod/cgroup.subtree_control=+memory",
				c1 + "cgroup.freeze=0",
				c1 + "io.max=8:0 rbps=1",
				c1 + "io.max=8:16 wbps=2",
				c1 + "memory.high=1073741824",
			}},
	})
}

func TestUnifiedRefused(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "unified path", r: specs.LinuxResources{Unified: map[string]string{"memory/../../x.y": "1"}},
			want: `linux.resources.unified["memory/../../x.y"]: not a cgroup2 file name (controller.name)`},
		{name: "unified no controller", r: specs.LinuxResources{Unified: map[string]string{"max": "1"}},
			want: `linux.resources.unified["max"]: not a cgroup2 file name (controller.name)`},
		{name: "unified procs", r: specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}},
			want: `linux.resources.unified["cgroup.procs"]: moves or kills processes; it is not a resource`},
		{name: "unified controller not enabled on a hybrid host", r: specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}},
			want: `linux.resources.unified["memory.max"]: ROOT/cgroup/unified/c1/memory.max does not exist: the memory controller is not enabled in the cgroup2 hierarchy of this hybrid host (enabled: none); its v1 hierarchy has it`},
	})
}
