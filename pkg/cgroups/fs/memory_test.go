package fs

import (
	"os"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.memory: v1 (memory.limit_in_bytes, memsw in the order the kernel allows) and cgroup2 (memory.max, swap alone).

func TestMemoryV1(t *testing.T) {
	const mem = "memory/c1/"
	runSetCases(t, newFakeV1, []setCase{
		{name: "memory limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}},
			want: []string{mem + "memory.limit_in_bytes=1073741824"}},
		{name: "limit and swap from unlimited: limit first", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)},
		}, want: []string{mem + "memory.limit_in_bytes=1073741824", mem + "memory.memsw.limit_in_bytes=2147483648"}},
		{name: "limit and swap raised above the current limit: swap first",
			prepare: func(f *fakeTree) { f.File(f.Path(mem+"memory.limit_in_bytes"), "104857600\n") },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)}},
			want:    []string{mem + "memory.memsw.limit_in_bytes=2147483648", mem + "memory.limit_in_bytes=1073741824"}},
		{name: "unlimited memory lifts memory+swap first", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{mem + "memory.memsw.limit_in_bytes=-1", mem + "memory.limit_in_bytes=-1"}},
		{name: "unlimited memory without swap accounting",
			prepare: func(f *fakeTree) { os.Remove(f.Path(mem + "memory.memsw.limit_in_bytes")) },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:    []string{mem + "memory.limit_in_bytes=-1"}},
		{name: "every other memory field, kernel memory ignored", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](64 << 20), KernelTCP: ptr[int64](16 << 20), Reservation: ptr[int64](256 << 20),
			Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true),
			Limit: ptr[int64](512 << 20), CheckBeforeUpdate: ptr(true),
		}}, want: []string{
			mem + "memory.limit_in_bytes=536870912",
			mem + "memory.soft_limit_in_bytes=268435456",
			mem + "memory.swappiness=10",
			mem + "memory.oom_control=1",
			mem + "memory.use_hierarchy=1",
		}},
		{name: "oom killer back on", r: specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(false)}},
			want: []string{mem + "memory.oom_control=0"}},
		// Whatever their value: runc does not look at it either.
		{name: "kernel memory alone: nothing", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](-3), KernelTCP: ptr[int64](1 << 20),
		}}, want: nil},
		{name: "kernel memory without its files: nothing",
			prepare: func(f *fakeTree) {
				os.Remove(f.Path(mem + "memory.kmem.limit_in_bytes"))
				os.Remove(f.Path(mem + "memory.kmem.tcp.limit_in_bytes"))
			},
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20), Limit: ptr[int64](1 << 30)}},
			want: []string{mem + "memory.limit_in_bytes=1073741824"}},
	})
}

func TestMemoryV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30), Reservation: ptr[int64](512 << 20), UseHierarchy: ptr(true),
		}}, want: with(enable("memory"),
			c1+"memory.swap.max=1073741824",
			c1+"memory.max=1073741824",
			c1+"memory.low=536870912")},
		{name: "unlimited memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: with(enable("memory"), c1+"memory.swap.max=max", c1+"memory.max=max")},
		{name: "kernel memory ignored", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 30), Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20),
		}}, want: with(enable("memory"), c1+"memory.max=1073741824")},
		{name: "kernel memory alone: nothing", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20),
		}}, want: nil},
		{name: "swap equal to the limit is no swap", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](1 << 30)}},
			want: with(enable("memory"), c1+"memory.swap.max=0", c1+"memory.max=1073741824")},
		{name: "no swap accounting: unlimited swap dropped",
			prepare: func(f *fakeTree) { os.Remove(f.Path(c1 + "memory.swap.max")) },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:    with(enable("memory"), c1+"memory.max=max")},
		{name: "checkBeforeUpdate above usage", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](16 << 20), Swap: ptr[int64](32 << 20), CheckBeforeUpdate: ptr(true),
		}}, want: with(enable("memory"), c1+"memory.swap.max=16777216", c1+"memory.max=16777216")},
	})
}

func TestMemoryRefused(t *testing.T) {
	mem := func(m specs.LinuxMemory) specs.LinuxResources { return specs.LinuxResources{Memory: &m} }
	runBadCases(t, []badCase{
		{name: "memory limit", r: mem(specs.LinuxMemory{Limit: ptr[int64](-2)}),
			want: "linux.resources.memory.limit: -2 is not a limit (bytes, or -1 for none)"},
		{name: "memory reservation", r: mem(specs.LinuxMemory{Reservation: ptr[int64](-5)}),
			want: "linux.resources.memory.reservation: -5 is not a limit (bytes, or -1 for none)"},
		{name: "swap below limit", r: mem(specs.LinuxMemory{Limit: ptr[int64](200), Swap: ptr[int64](100)}),
			want: "linux.resources.memory.swap: 100 is below limit 200 (swap is memory+swap)"},
		{name: "swap with unlimited memory", r: mem(specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](100)}),
			want: "linux.resources.memory.swap: 100 with no memory limit (swap is memory+swap, so it needs a limit at most as large)"},
		{name: "swappiness", r: mem(specs.LinuxMemory{Swappiness: ptr[uint64](101)}),
			want: "linux.resources.memory.swappiness: 101 is out of range (0-100)"},
		{name: "v2 swappiness", v2: true, r: mem(specs.LinuxMemory{Swappiness: ptr[uint64](0)}),
			want: "linux.resources.memory.swappiness: cgroup2 has no per-cgroup swappiness"},
		{name: "v2 OOM killer", v2: true, r: mem(specs.LinuxMemory{DisableOOMKiller: ptr(true)}),
			want: "linux.resources.memory.disableOOMKiller: cgroup2 cannot disable the OOM killer of a cgroup"},
		{name: "v2 flat accounting", v2: true, r: mem(specs.LinuxMemory{UseHierarchy: ptr(false)}),
			want: "linux.resources.memory.useHierarchy: false: cgroup2 accounting is always hierarchical"},
		{name: "v2 swap without limit", v2: true, r: mem(specs.LinuxMemory{Swap: ptr[int64](1 << 20)}),
			want: "linux.resources.memory.swap: 1048576 without limit: cgroup2's memory.swap.max is swap alone, the difference of the two"},
		{name: "no swap accounting", prepare: func(f *fakeTree) { os.Remove(f.Path("memory/c1/memory.memsw.limit_in_bytes")) },
			r:    mem(specs.LinuxMemory{Swap: ptr[int64](2 << 20)}),
			want: "linux.resources.memory.swap: ROOT/cgroup/memory/c1/memory.memsw.limit_in_bytes does not exist: swap accounting is off (the kernel needs CONFIG_MEMCG_SWAP and swapaccount=1)"},
		{name: "checkBeforeUpdate", r: mem(specs.LinuxMemory{Limit: ptr[int64](4 << 20), CheckBeforeUpdate: ptr(true)}),
			want: "linux.resources.memory.limit: 4194304 is below the current usage 8388608 (ROOT/cgroup/memory/c1/memory.usage_in_bytes; memory.checkBeforeUpdate is set)"},
	})
}
