package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
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

func TestUsableCapabilities(t *testing.T) {
	all := capability.Cap(40) // CAP_CHECKPOINT_RESTORE, the last one rt's table knows
	caps := func(b, e, i, p, a []string) *specs.LinuxCapabilities {
		return &specs.LinuxCapabilities{Bounding: b, Effective: e, Inheritable: i, Permitted: p, Ambient: a}
	}
	l := func(names ...string) []string { return names }
	tests := []struct {
		name        string
		given       *specs.LinuxCapabilities
		last        capability.Cap
		want        *specs.LinuxCapabilities
		unknown     []string
		unraiseable []string
	}{
		{"nil", nil, all, nil, nil, nil},
		{"all known", caps(l("CAP_CHOWN", "CAP_KILL"), l("CAP_KILL"), l("CAP_KILL"), l("CAP_KILL"), l("CAP_KILL")), all,
			caps(l("CAP_CHOWN", "CAP_KILL"), l("CAP_KILL"), l("CAP_KILL"), l("CAP_KILL"), l("CAP_KILL")), nil, nil},
		{"unknown name in every set, named once", caps(l("CAP_CHOWN", "CAP_BOGUS"), l("CAP_BOGUS"), l("CAP_BOGUS", "CAP_ZZZ"), l("CAP_BOGUS"), l("CAP_BOGUS")), all,
			caps(l("CAP_CHOWN"), l(), l(), l(), l()), l("CAP_BOGUS", "CAP_ZZZ"), nil},
		{"no CAP_ prefix is unknown (runc too)", caps(l("CHOWN", "CAP_KILL"), nil, nil, nil, nil), all,
			caps(l("CAP_KILL"), nil, nil, nil, nil), l("CHOWN"), nil},
		{"lower case is known, kept as given", caps(l("cap_chown"), nil, nil, nil, nil), all,
			caps(l("cap_chown"), nil, nil, nil, nil), nil, nil},
		// A kernel whose last capability is CAP_BPF (39) lacks
		// CAP_CHECKPOINT_RESTORE (40).
		{"above the kernel's last", caps(l("CAP_BPF", "CAP_CHECKPOINT_RESTORE"), l("CAP_CHECKPOINT_RESTORE"), nil, l("CAP_CHECKPOINT_RESTORE"), nil), 39,
			caps(l("CAP_BPF"), l(), nil, l(), nil), l("CAP_CHECKPOINT_RESTORE"), nil},
		{"ambient not inheritable", caps(l("CAP_KILL"), l("CAP_KILL"), nil, l("CAP_KILL"), l("CAP_KILL")), all,
			caps(l("CAP_KILL"), l("CAP_KILL"), nil, l("CAP_KILL"), l()), nil, l("CAP_KILL")},
		{"ambient not permitted", caps(l("CAP_KILL"), nil, l("CAP_KILL"), nil, l("CAP_KILL", "CAP_KILL")), all,
			caps(l("CAP_KILL"), nil, l("CAP_KILL"), nil, l()), nil, l("CAP_KILL")},
		{"ambient permitted and inheritable, any case", caps(nil, nil, l("CAP_NET_RAW", "CAP_KILL"), l("cap_net_raw", "CAP_CHOWN"), l("Cap_Net_Raw", "CAP_CHOWN")), all,
			caps(nil, nil, l("CAP_NET_RAW", "CAP_KILL"), l("cap_net_raw", "CAP_CHOWN"), l("Cap_Net_Raw")), nil, l("CAP_CHOWN")},
		{"unknown ambient is unknown only", caps(nil, nil, nil, nil, l("CAP_BOGUS")), all,
			caps(nil, nil, nil, nil, l()), l("CAP_BOGUS"), nil},
		{"ambient inheritable cap the kernel lacks", caps(nil, nil, l("CAP_CHECKPOINT_RESTORE"), l("CAP_CHECKPOINT_RESTORE"), l("CAP_CHECKPOINT_RESTORE")), 39,
			caps(nil, nil, l(), l(), l()), l("CAP_CHECKPOINT_RESTORE"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before specs.LinuxCapabilities
			if tt.given != nil {
				before = *tt.given
				before.Bounding = slices.Clone(tt.given.Bounding)
			}
			got, unknown, unraiseable := UsableCapabilities(tt.given, tt.last)
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("usable %+v, want %+v", got, tt.want)
			}
			if got != nil {
				for _, set := range []struct {
					name      string
					got, want []string
				}{
					{"bounding", got.Bounding, tt.want.Bounding}, {"effective", got.Effective, tt.want.Effective},
					{"inheritable", got.Inheritable, tt.want.Inheritable}, {"permitted", got.Permitted, tt.want.Permitted},
					{"ambient", got.Ambient, tt.want.Ambient},
				} {
					if len(set.got) != len(set.want) || !slices.Equal(set.got, set.want) {
						t.Errorf("%s %q, want %q", set.name, set.got, set.want)
					}
				}
				if got == tt.given {
					t.Errorf("the given capabilities were returned, not a copy")
				}
				if !slices.Equal(tt.given.Bounding, before.Bounding) {
					t.Errorf("the given bounding set was changed: %q", tt.given.Bounding)
				}
			}
			if !slices.Equal(unknown, tt.unknown) {
				t.Errorf("unknown %q, want %q", unknown, tt.unknown)
			}
			if !slices.Equal(unraiseable, tt.unraiseable) {
				t.Errorf("unraiseable %q, want %q", unraiseable, tt.unraiseable)
			}
		})
	}
}
