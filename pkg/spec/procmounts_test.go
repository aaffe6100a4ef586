package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/rootfs"
)

// TestValidateProcMounts: a mount whose destination, as written, is inside
// /proc is refused naming it, unless runc allows it there (rootfs.
// ProcDestination); a bind on /proc itself passes, for rt-init to check
// its source.
func TestValidateProcMounts(t *testing.T) {
	tests := []struct {
		name string
		m    specs.Mount
		want string // "" for valid
	}{
		{"bind over /proc/cpuinfo", specs.Mount{Destination: "/proc/cpuinfo", Type: "bind", Source: "/x", Options: []string{"bind"}}, ""},
		{"bind over /proc/sys/kernel/ns_last_pid", specs.Mount{Destination: "/proc/sys/kernel/ns_last_pid", Source: "/x", Options: []string{"rbind"}}, ""},
		{"bind on /proc", specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind"}}, ""},
		{"bind over /proc/sys/kernel/domainname", specs.Mount{Destination: "/proc/sys/kernel/domainname", Type: "bind", Source: "/x", Options: []string{"bind"}},
			`invalid configuration: mounts[1] "/proc/sys/kernel/domainname": cannot be mounted because it is inside /proc (only /proc/cpuinfo, `},
		{"tmpfs on /proc/self", specs.Mount{Destination: "/proc/self", Type: "tmpfs", Source: "tmpfs"},
			`mounts[1] "/proc/self": cannot be mounted because it is inside /proc`},
		{"relative destination in proc", specs.Mount{Destination: "proc/1/environ", Type: "bind", Source: "/x", Options: []string{"bind"}},
			`mounts[1] "proc/1/environ": cannot be mounted because it is inside /proc`},
		{"tmpfs on /proc", specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"},
			`mounts[1] "/proc": cannot be mounted because it is not of type proc (type "tmpfs")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Mounts = append(s.Mounts, tt.m)
			err := Validate(s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, rootfs.ErrProcMount) {
				t.Errorf("Validate = %v: want both ErrInvalid and rootfs.ErrProcMount", err)
			}
		})
	}
}
