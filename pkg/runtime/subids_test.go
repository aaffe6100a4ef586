package runtime

import (
	"strings"
	"testing"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSelfMapOnly(t *testing.T) {
	for _, tt := range []struct {
		maps []specs.LinuxIDMapping
		want bool
	}{
		{nil, true},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, true},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2}}, false},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}, false},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}, false},
	} {
		if got := selfMapOnly(tt.maps, 1000); got != tt.want {
			t.Errorf("selfMapOnly(%v, 1000) = %v, want %v", tt.maps, got, tt.want)
		}
	}
}

func idm(c, h, n uint32) specs.LinuxIDMapping {
	return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
}

func TestCheckSubIDs(t *testing.T) {
	ranges := []user.SubID{{Name: "u", SubID: 100000, Count: 65536}, {Name: "u", SubID: 300000, Count: 10}}
	for _, tt := range []struct {
		name   string
		maps   []specs.LinuxIDMapping
		ranges []user.SubID
		want   string // "" valid
	}{
		{"own id and a whole range", []specs.LinuxIDMapping{idm(0, 1000, 1), idm(1, 100000, 65536)}, ranges, ""},
		{"the second range", []specs.LinuxIDMapping{idm(0, 300000, 10)}, ranges, ""},
		{"past a range's end", []specs.LinuxIDMapping{idm(0, 1000, 1), idm(1, 100000, 65537)},
			ranges, "linux.uidMappings[1] (container 1, host 100000, size 65537): host ids 100000-165536 are neither id 1000 nor in the subordinate ranges /etc/subuid gives this user (100000-165535, 300000-300009)"},
		{"across two ranges", []specs.LinuxIDMapping{idm(0, 165530, 300000-165530+5)}, ranges, "linux.uidMappings[0]"},
		{"someone else's id", []specs.LinuxIDMapping{idm(0, 0, 1)}, ranges, "host ids 0-0 are neither id 1000"},
		{"no ranges at all", []specs.LinuxIDMapping{idm(1, 100000, 1)}, nil, "(none)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSubIDs(idMapHelper{field: "linux.uidMappings", file: "/etc/subuid", maps: tt.maps, own: 1000}, tt.ranges)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkSubIDs = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkSubIDs = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
