package spec

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestAbsMountDestinations(t *testing.T) {
	mounts := func(dests ...string) []specs.Mount {
		var out []specs.Mount
		for _, d := range dests {
			out = append(out, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs"})
		}
		return out
	}
	tests := []struct {
		name  string
		dests []string
		want  []string
		// warned are the words of the warning; nil means no warning.
		warned []string
	}{
		{"none", nil, nil, nil},
		{"all absolute", []string{"/proc", "/dev", "/mnt/x/"}, []string{"/proc", "/dev", "/mnt/x/"}, nil},
		{"one relative", []string{"/proc", "mnt/rel"}, []string{"/proc", "/mnt/rel"},
			[]string{`mounts[1]`, `"mnt/rel"`, `"/mnt/rel"`, "not absolute", "deprecated"}},
		{"several relative, one warning", []string{"a", "/b", "c/d"}, []string{"/a", "/b", "/c/d"},
			[]string{`mounts[0]`, `"a"`, `mounts[2]`, `"c/d"`, `"/c/d"`}},
		// Resolved inside the rootfs as every destination is: the ".."
		// stops at the container's root (pathrs-lite), never the host's.
		{"relative with dot-dot", []string{"../../etc/x"}, []string{"/../../etc/x"}, []string{`"../../etc/x"`}},
		{"dot", []string{"."}, []string{"/."}, []string{`"."`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Mounts = mounts(tt.dests...)
			orig := slices.Clone(s.Mounts)
			given := s.Mounts
			warning := AbsMountDestinations(s)
			var got []string
			for _, m := range s.Mounts {
				got = append(got, m.Destination)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("destinations %q, want %q", got, tt.want)
			}
			if tt.warned == nil && warning != "" {
				t.Errorf("warning %q, want none", warning)
			}
			if tt.warned != nil && warning == "" {
				t.Errorf("no warning, want one naming %q", tt.warned)
			}
			for _, w := range tt.warned {
				if !strings.Contains(warning, w) {
					t.Errorf("warning %q does not contain %q", warning, w)
				}
			}
			if strings.Contains(warning, "\n") {
				t.Errorf("warning %q is more than one line", warning)
			}
			// The caller's slice is not written to.
			if !slices.EqualFunc(given, orig, func(a, b specs.Mount) bool { return a.Destination == b.Destination }) {
				t.Errorf("the given mounts were changed: %+v", given)
			}
		})
	}
}
