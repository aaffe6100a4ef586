package spec

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestValidateNoMountNamespace: a config whose linux.namespaces has no
// "mount" is the runtime spec's "inherit the runtime's": accepted as runc
// accepts it, refused where runc refuses it (masked or read-only paths) and
// where it could never run (a user namespace), with the exact message.
func TestValidateNoMountNamespace(t *testing.T) {
	const why = `a mount namespace of the container's own (linux.namespaces has no "mount")`
	noMount := func(s *specs.Spec) {
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}}
	}
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		// want is the whole error; "" means the spec is valid.
		want string
	}{
		{"no mount namespace", noMount, ""},
		{"no namespaces at all", func(s *specs.Spec) { s.Linux.Namespaces = nil }, ""},
		{"no mount namespace, readonly root and rootfsPropagation", func(s *specs.Spec) {
			noMount(s)
			s.Root.Readonly = true
			s.Linux.RootfsPropagation = "rshared"
		}, ""},
		{"maskedPaths without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			s.Linux.MaskedPaths = []string{"/proc/kcore"}
		}, "invalid configuration: linux.maskedPaths needs " + why},
		{"readonlyPaths without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			s.Linux.ReadonlyPaths = []string{"/proc/sys"}
		}, "invalid configuration: linux.readonlyPaths needs " + why},
		{"both without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			s.Linux.MaskedPaths = []string{"/proc/kcore"}
			s.Linux.ReadonlyPaths = []string{"/proc/sys"}
		}, "invalid configuration: linux.maskedPaths and linux.readonlyPaths need " + why},
		{"empty lists without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = []string{}, []string{}
		}, ""},
		{"user namespace without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			addNS(s, specs.UserNamespace)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "invalid configuration: a user namespace needs " + why + ": rt-init would mount in rt's, where it has no privilege"},
		{"joined user namespace without a mount namespace", func(s *specs.Spec) {
			noMount(s)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}, "invalid configuration: a user namespace needs " + why + ": rt-init would mount in rt's, where it has no privilege"},
		{"masked paths with a mount namespace", func(s *specs.Spec) {
			s.Linux.MaskedPaths = []string{"/proc/kcore"}
			s.Linux.ReadonlyPaths = []string{"/proc/sys"}
		}, ""},
		{"masked paths with a joined mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: "/proc/1/ns/mnt"}}
			s.Linux.MaskedPaths = []string{"/proc/kcore"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(s)
			err := Validate(s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("Validate: nil, want %q", tt.want)
			case err.Error() != tt.want:
				t.Errorf("Validate:\n got %q\nwant %q", err, tt.want)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("Validate: %v does not wrap ErrInvalid", err)
			}
		})
	}
}
