//go:build cgo && linux

package seccomp

import (
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/specjson"
)

// FuzzCompile feeds a config's linux.seccomp section, as JSON, through
// rt's decoder (pkg/specjson) to Validate and Compile, the translation into
// a BPF program that rt-init loads (never loaded here). Neither may panic;
// a refusal is one line; what Validate refuses Compile refuses with the same
// error; what Compile accepts is a program, with a listener exactly when a
// rule notifies.
func FuzzCompile(f *testing.F) {
	for _, s := range compileSeeds() {
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, section []byte) {
		config := append(append([]byte(`{"linux":{"seccomp":`), section...), "}}"...)
		spec, err := specjson.Parse(config)
		if err != nil || spec.Linux == nil || spec.Linux.Seccomp == nil {
			return // not a seccomp section: pkg/spec's FuzzParse covers the JSON
		}
		s := spec.Linux.Seccomp
		verr := Validate(s)
		p, err := Compile(s)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("Compile: error of several lines: %q", msg)
			}
			if verr != nil && verr.Error() != err.Error() {
				t.Fatalf("Validate: %v, but Compile: %v", verr, err)
			}
			return
		}
		if verr != nil {
			t.Fatalf("Compile accepted what Validate refuses: %v", verr)
		}
		if len(p.filter) == 0 {
			t.Fatal("Compile: an empty program")
		}
		if p.Listener() != Notifies(s) || (p.flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0) != Notifies(s) {
			t.Fatalf("Compile: flags %#x, but Notifies is %v", p.flags, Notifies(s))
		}
	})
}

// compileSeeds are the profiles of TestValidate and TestCompile.
func compileSeeds() []*specs.LinuxSeccomp {
	var seeds []*specs.LinuxSeccomp
	for _, c := range validateCases() {
		if c.profile != nil {
			seeds = append(seeds, c.profile)
		}
	}
	masked := denyMkdir(1)
	masked.Syscalls = append(masked.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActLog,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 8, Op: specs.OpMaskedEqual}, {Index: 0, Value: 3, Op: specs.OpEqualTo}}})
	return append(seeds, denyMkdir(uint(unix.EPERM)), masked,
		&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchMIPSEL}},
		&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}},
		&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"})
}
