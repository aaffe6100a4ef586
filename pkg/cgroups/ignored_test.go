package cgroups

import (
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// DropIgnored names the kernel memory fields given (0 and -1 included, as
// runc warns about any), returns resources without them and leaves its
// argument as it was.
func TestDropIgnored(t *testing.T) {
	const kernel, tcp = "linux.resources.memory.kernel", "linux.resources.memory.kernelTCP"
	pids := &specs.LinuxPids{Limit: ptr[int64](5)}
	tests := []struct {
		name      string
		r         *specs.LinuxResources
		want      *specs.LinuxResources
		wantNames []string
	}{
		{name: "nil", r: nil, want: nil},
		{name: "no memory", r: &specs.LinuxResources{Pids: pids}, want: &specs.LinuxResources{Pids: pids}},
		{name: "memory without kernel",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}},
		{name: "kernel",
			r:         &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20), Kernel: ptr[int64](1 << 20)}, Pids: pids},
			want:      &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}, Pids: pids},
			wantNames: []string{kernel}},
		{name: "kernelTCP 0",
			r:         &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr[int64](0)}},
			want:      &specs.LinuxResources{Memory: &specs.LinuxMemory{}},
			wantNames: []string{tcp}},
		{name: "both, -1",
			r:         &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](-1), KernelTCP: ptr[int64](-1), Swappiness: ptr[uint64](10)}},
			want:      &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}},
			wantNames: []string{kernel, tcp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *specs.LinuxResources
			if tt.r != nil {
				cp := *tt.r
				if tt.r.Memory != nil {
					m := *tt.r.Memory
					cp.Memory = &m
				}
				before = &cp
			}
			got, names := DropIgnored(tt.r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resources = %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("names = %q, want %q", names, tt.wantNames)
			}
			if !reflect.DeepEqual(tt.r, before) {
				t.Errorf("argument changed to %+v, was %+v", tt.r, before)
			}
			if len(names) == 0 && got != tt.r {
				t.Errorf("nothing to drop, but not the argument itself returned")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
