package rootfs

import "testing"

func TestHierarchyMount(t *testing.T) {
	paths := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1", "memory": "/sys/fs/cgroup/memory/c1", "": "/sys/fs/cgroup/unified/c1"}
	tests := []struct {
		name               string
		h                  Hierarchy
		typ, data, bindSrc string
	}{
		{"v1", Hierarchy{Mountpoint: "/sys/fs/cgroup/memory", Options: "memory"}, "cgroup", "memory", "/sys/fs/cgroup/memory/c1"},
		{"co-mounted", Hierarchy{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Options: "cpu,cpuacct"}, "cgroup", "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1"},
		{"cgroup2", Hierarchy{Mountpoint: "/sys/fs/cgroup/unified", V2: true}, "cgroup2", "", "/sys/fs/cgroup/unified/c1"},
		{"not the container's", Hierarchy{Mountpoint: "/sys/fs/cgroup/pids", Options: "pids"}, "cgroup", "pids", "/sys/fs/cgroup/pids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if typ, data := tt.h.Type(); typ != tt.typ || data != tt.data {
				t.Errorf("Type = %q, %q; want %q, %q", typ, data, tt.typ, tt.data)
			}
			if got := tt.h.BindSource(paths); got != tt.bindSrc {
				t.Errorf("BindSource = %q, want %q", got, tt.bindSrc)
			}
		})
	}
}
