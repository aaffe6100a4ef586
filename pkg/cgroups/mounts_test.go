package cgroups

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	const hybridHost = `23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:12 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`
	tests := []struct {
		name string
		in   string
		want []Mount
	}{
		{name: "hybrid", in: hybridHost, want: []Mount{
			{"/sys/fs/cgroup/cpu,cpuacct", "/", []string{"cpu", "cpuacct"}},
			{"/sys/fs/cgroup/cpuset", "/", []string{"cpuset"}},
			{"/sys/fs/cgroup/memory", "/", []string{"memory"}},
			{"/sys/fs/cgroup/systemd", "/", []string{"name=systemd"}},
			{"/sys/fs/cgroup/unified", "/", []string{""}},
		}},
		{name: "pure v2", in: "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			want: []Mount{{"/sys/fs/cgroup", "/", []string{""}}}},
		{name: "second mount of a hierarchy ignored", in: hybridHost +
			"90 1 0:32 / /run/memory rw - cgroup cgroup rw,memory\n" +
			"91 1 0:38 /sub /run/unified rw - cgroup2 cgroup2 rw\n",
			want: []Mount{
				{"/sys/fs/cgroup/cpu,cpuacct", "/", []string{"cpu", "cpuacct"}},
				{"/sys/fs/cgroup/cpuset", "/", []string{"cpuset"}},
				{"/sys/fs/cgroup/memory", "/", []string{"memory"}},
				{"/sys/fs/cgroup/systemd", "/", []string{"name=systemd"}},
				{"/sys/fs/cgroup/unified", "/", []string{""}},
			}},
		{name: "mount of the top preferred to an earlier subtree", in: "" +
			"50 1 0:32 /docker/c1 /mnt/sub rw - cgroup cgroup rw,memory\n" +
			"51 1 0:32 / /mnt/top rw - cgroup cgroup rw,memory\n",
			want: []Mount{{"/mnt/top", "/", []string{"memory"}}}},
		{name: "only a subtree mounted", in: "50 1 0:32 /docker/c1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			want: []Mount{{"/sys/fs/cgroup/memory", "/docker/c1", []string{"memory"}}}},
		{name: "covered by a later tmpfs", in: hybridHost +
			"60 31 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" +
			"61 60 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			want: []Mount{{"/sys/fs/cgroup/memory", "/", []string{"memory"}}}},
		{name: "covered by a later mount on the same point", in: hybridHost +
			"60 41 0:40 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n",
			want: []Mount{
				{"/sys/fs/cgroup/cpu,cpuacct", "/", []string{"cpu", "cpuacct"}},
				{"/sys/fs/cgroup/cpuset", "/", []string{"cpuset"}},
				{"/sys/fs/cgroup/memory", "/", []string{"memory"}},
				{"/sys/fs/cgroup/systemd", "/", []string{"name=systemd"}},
			}},
		{name: "escaped mountpoint", in: `70 1 0:50 / /mnt/my\040cgroups rw - cgroup cgroup rw,pids` + "\n",
			want: []Mount{{"/mnt/my cgroups", "/", []string{"pids"}}}},
		{name: "no cgroups", in: "23 1 0:21 / /sys rw - sysfs sysfs rw\n", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountinfo([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseMountinfoMalformed(t *testing.T) {
	_, err := parseMountinfo([]byte("1 2 0:3 / /x rw a b c d e\n"))
	if err == nil || !strings.Contains(err.Error(), "cgroups: parse /proc/self/mountinfo: ") || !strings.Contains(err.Error(), "missing - separator") {
		t.Errorf("err = %v", err)
	}
}

func TestParseProcCgroup(t *testing.T) {
	got, err := ParseProcCgroup([]byte("9:name=systemd:/\n4:memory:/process_api/f9\n2:cpu,cpuacct:/a b\n0::/user.slice\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/", "memory": "/process_api/f9", "cpu": "/a b", "cpuacct": "/a b", "": "/user.slice"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := ParseProcCgroup([]byte("garbage\n")); err == nil {
		t.Error("malformed line accepted")
	}
}
