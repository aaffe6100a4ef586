package spec

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/seccomp"
)

func TestFeatures(t *testing.T) {
	f := Features()
	if f.OCIVersionMin != MinVersion || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %q..%q, want %q..%q", f.OCIVersionMin, f.OCIVersionMax, MinVersion, specs.Version)
	}
	if f.Linux == nil {
		t.Fatal("no linux section")
	}
	var wantNS []string
	for typ := range Namespaces {
		wantNS = append(wantNS, string(typ))
	}
	slices.Sort(wantNS)
	tests := []struct {
		name      string
		got, want []string
	}{
		{"namespaces", f.Linux.Namespaces, wantNS},
		{"hooks", f.Hooks, Hooks},
		{"mount options", f.MountOptions, rootfs.OptionNames()},
	}
	for _, w := range []string{"idmap", "ridmap"} {
		if !slices.Contains(f.MountOptions, w) {
			t.Errorf("mount options lack %q", w)
		}
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if !slices.IsSorted(f.Linux.Namespaces) {
		t.Errorf("namespaces not sorted: %q", f.Linux.Namespaces)
	}
	// The document must be a copy: changing it cannot change the tables.
	f.Hooks[0] = "changed"
	if Hooks[0] == "changed" {
		t.Errorf("Features shares the Hooks table")
	}
}

// TestFeaturesCapabilities checks that the capabilities reported are exactly
// the names Capability accepts, each round-tripping to its name.
func TestFeaturesCapabilities(t *testing.T) {
	got := Features().Linux.Capabilities
	if len(got) == 0 {
		t.Fatal("no capabilities")
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
		c, ok := Capability(n)
		if !ok {
			t.Errorf("Capability(%q) not accepted", n)
			continue
		}
		if back := "CAP_" + strings.ToUpper(c.String()); back != n {
			t.Errorf("Capability(%q) = %v, which names %q", n, c, back)
		}
	}
	accepted := slices.Sorted(maps.Keys(capabilityByName))
	listed := slices.Sorted(maps.Keys(seen))
	if !slices.Equal(accepted, listed) {
		t.Errorf("features capabilities %q, Capability accepts %q", listed, accepted)
	}
	if len(got) != len(capability.ListKnown()) {
		t.Errorf("%d capabilities listed, the library knows %d", len(got), len(capability.ListKnown()))
	}
	for _, n := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_KILL"} {
		if !seen[n] {
			t.Errorf("%s missing", n)
		}
	}
}

func TestCapability(t *testing.T) {
	tests := []struct {
		name string
		want capability.Cap
		ok   bool
	}{
		{"CAP_CHOWN", capability.CAP_CHOWN, true},
		{"CAP_SYS_ADMIN", capability.CAP_SYS_ADMIN, true},
		{"cap_net_raw", capability.CAP_NET_RAW, true},
		{"CHOWN", 0, false},
		{"CAP_BOGUS", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		c, ok := Capability(tt.name)
		if ok != tt.ok || (ok && c != tt.want) {
			t.Errorf("Capability(%q) = %v, %v; want %v, %v", tt.name, c, ok, tt.want, tt.ok)
		}
	}
}

// TestFeaturesSeccomp: the seccomp section is pkg/seccomp's tables, so it
// lists what Validate accepts: TSYNC among the flags (runc accepts it; a
// no-op on rt-init's one exec'ing thread), WAIT_KILLABLE_RECV not yet;
// every architecture of the table, MIPS and the others libseccomp 2.5.4
// knows included.
func TestFeaturesSeccomp(t *testing.T) {
	f := Features().Linux.Seccomp
	if f == nil || f.Enabled == nil || !*f.Enabled {
		t.Fatalf("seccomp %+v, want enabled", f)
	}
	var flags []string
	for _, fl := range seccomp.Flags {
		flags = append(flags, string(fl))
	}
	var supported []string
	for _, fl := range seccomp.Flags {
		if seccomp.KernelHas(fl) {
			supported = append(supported, string(fl))
		}
	}
	if !slices.Equal(f.KnownFlags, flags) || !slices.Equal(f.SupportedFlags, supported) {
		t.Errorf("knownFlags %q, supportedFlags %q, want pkg/seccomp's %q and of them what the kernel has, %q", f.KnownFlags, f.SupportedFlags, flags, supported)
	}
	if !slices.Equal(f.Archs, seccomp.ArchNames()) {
		t.Errorf("archs %q, want %q", f.Archs, seccomp.ArchNames())
	}
	for _, tt := range []struct {
		list []string
		name string
		want bool
	}{
		{f.SupportedFlags, "SECCOMP_FILTER_FLAG_TSYNC", true},
		{f.SupportedFlags, "SECCOMP_FILTER_FLAG_LOG", true},
		{f.SupportedFlags, "SECCOMP_FILTER_FLAG_SPEC_ALLOW", true},
		{f.Actions, "SCMP_ACT_NOTIFY", true},
		{f.Archs, "SCMP_ARCH_X86_64", true},
		{f.Archs, "SCMP_ARCH_MIPS", true},
		{f.Archs, "SCMP_ARCH_PARISC64", true},
		{f.Archs, "SCMP_ARCH_LOONGARCH64", false},
	} {
		if got := slices.Contains(tt.list, tt.name); got != tt.want {
			t.Errorf("%s listed: %v, want %v", tt.name, got, tt.want)
		}
	}
	// Whatever is listed passes Validate.
	for _, a := range f.Archs {
		if err := seccomp.Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}); err != nil {
			t.Errorf("arch %s listed, Validate: %v", a, err)
		}
	}
	for _, fl := range f.SupportedFlags {
		notify := []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		if err := seccomp.Validate(&specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)}, ListenerPath: "/a", Syscalls: notify,
		}); err != nil {
			t.Errorf("flag %s listed, Validate: %v", fl, err)
		}
	}
}

// TestFeaturesProcAttrs: the memory policy modes and flags are those
// Validate accepts and pkg/process encodes, sorted; Intel RDT is reported
// implemented, schemata and monitoring included.
func TestFeaturesProcAttrs(t *testing.T) {
	l := Features().Linux
	if l.MemoryPolicy == nil {
		t.Fatal("no memoryPolicy")
	}
	wantModes := []string{"MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"}
	wantFlags := []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
	if !slices.Equal(l.MemoryPolicy.Modes, wantModes) || !slices.Equal(l.MemoryPolicy.Flags, wantFlags) {
		t.Errorf("memoryPolicy %q %q, want %q %q", l.MemoryPolicy.Modes, l.MemoryPolicy.Flags, wantModes, wantFlags)
	}
	for _, m := range l.MemoryPolicy.Modes {
		s := validSpec()
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MemoryPolicyModeType(m), Nodes: "0"}
		if m == "MPOL_DEFAULT" || m == "MPOL_LOCAL" {
			s.Linux.MemoryPolicy.Nodes = ""
		}
		for _, f := range l.MemoryPolicy.Flags {
			if f != "MPOL_F_RELATIVE_NODES" {
				s.Linux.MemoryPolicy.Flags = append(s.Linux.MemoryPolicy.Flags, specs.MemoryPolicyFlagType(f))
			}
		}
		if err := Validate(s); err != nil {
			t.Errorf("reported mode %s refused: %v", m, err)
		}
	}
	r := l.IntelRdt
	if r == nil || r.Enabled == nil || !*r.Enabled || r.Schemata == nil || !*r.Schemata || r.Monitoring == nil || !*r.Monitoring {
		t.Errorf("intelRdt %+v, want enabled, schemata and monitoring true", r)
	}
}

// TestFeaturesEnabled: the 1.1–1.3 sections rt honours say so, under the
// names runc's features JSON gives them; those it does not honour are left
// out (nil reads as "unknown", never as a false claim).
func TestFeaturesEnabled(t *testing.T) {
	data, err := json.Marshal(Features())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Linux map[string]json.RawMessage `json:"linux"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		section string
		want    string // the section's JSON; "" means absent
	}{
		{"netDevices", `{"enabled":true}`},
		{"mountExtensions", `{"idmap":{"enabled":true}}`},
		{"intelRdt", `{"enabled":true,"schemata":true,"monitoring":true}`},
	} {
		if got := string(doc.Linux[tt.section]); got != tt.want {
			t.Errorf("linux.%s = %s, want %s", tt.section, got, tt.want)
		}
	}
}
