package rootfs

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMountIDMap: a mount is idmapped by the idmap or ridmap option (the
// last wins), or by mappings alone, which runc takes as idmap; the tree
// comes with rbind.
func TestMountIDMap(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	tests := []struct {
		name string
		m    specs.Mount
		want *IDMap
	}{
		{"plain bind", specs.Mount{Type: "bind", Options: []string{"rbind"}}, nil},
		{"tmpfs", specs.Mount{Type: "tmpfs"}, nil},
		{"idmap", specs.Mount{Type: "bind", Options: []string{"bind", "idmap"}}, &IDMap{}},
		{"ridmap on rbind", specs.Mount{Options: []string{"rbind", "ridmap"}}, &IDMap{Recursive: true, Tree: true}},
		{"idmap on rbind: the top only", specs.Mount{Options: []string{"rbind", "idmap"}, UIDMappings: m, GIDMappings: m},
			&IDMap{Tree: true, UIDs: m, GIDs: m}},
		{"ridmap then idmap", specs.Mount{Options: []string{"bind", "ridmap", "idmap"}}, &IDMap{}},
		{"mappings alone", specs.Mount{Type: "bind", UIDMappings: m, GIDMappings: m}, &IDMap{UIDs: m, GIDs: m}},
		{"one mapping alone", specs.Mount{Type: "bind", GIDMappings: m}, &IDMap{GIDs: m}},
		{"empty mappings", specs.Mount{Type: "bind", UIDMappings: []specs.LinuxIDMapping{}},
			&IDMap{UIDs: []specs.LinuxIDMapping{}}},
	}
	for _, tt := range tests {
		if got := MountIDMap(tt.m); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: MountIDMap = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestIsBind(t *testing.T) {
	tests := []struct {
		m    specs.Mount
		want bool
	}{
		{specs.Mount{Type: "bind"}, true},
		{specs.Mount{Type: "none", Options: []string{"rbind"}}, true},
		{specs.Mount{Type: "tmpfs", Options: []string{"bind"}}, true},
		{specs.Mount{Type: "tmpfs", Options: []string{"idmap"}}, false},
		{specs.Mount{Type: "proc"}, false},
	}
	for _, tt := range tests {
		if got := IsBind(tt.m); got != tt.want {
			t.Errorf("IsBind(%+v) = %v, want %v", tt.m, got, tt.want)
		}
	}
}
