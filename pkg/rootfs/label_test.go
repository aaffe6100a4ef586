package rootfs

import "testing"

func TestWithMountLabel(t *testing.T) {
	const l = "system_u:object_r:container_file_t:s0:c1,c2"
	for _, tt := range []struct{ data, typ, label, want string }{
		{"", "tmpfs", "", ""},
		{"size=1m", "tmpfs", "", "size=1m"},
		{"", "tmpfs", l, `context="` + l + `"`},
		{"mode=755,size=65536k", "tmpfs", l, `mode=755,size=65536k,context="` + l + `"`},
		{"", "mqueue", l, `context="` + l + `"`},
		{"", "proc", l, ""},
		{"", "sysfs", l, ""},
	} {
		if got := withMountLabel(tt.data, tt.typ, tt.label); got != tt.want {
			t.Errorf("withMountLabel(%q, %q, %q) = %q, want %q", tt.data, tt.typ, tt.label, got, tt.want)
		}
	}
}
