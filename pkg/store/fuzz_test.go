package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/intelrdt"
	"github.com/rtkit/rt/pkg/rootfs"
)

// fuzzID is the container whose state.json FuzzReadState writes.
const fuzzID = "c"

// FuzzReadState feeds bytes as a container's state.json to Read, as every
// command after create reads it, then to the spec record's decoders. None
// may panic, and an error is one line. A state Read accepts saves (Save's
// encoding) as it reads: encoded, read back and encoded again, the bytes
// are the same.
func FuzzReadState(f *testing.F) {
	for _, data := range stateSeeds(f) {
		f.Add(data)
	}
	s := New(f.TempDir())
	if err := os.MkdirAll(filepath.Join(s.Root(), fuzzID), 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A new file each time, as Save makes: ext4 writes a truncated
		// and rewritten one back at close, which is slow.
		file := filepath.Join(s.Root(), fuzzID, StateFile)
		if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := s.Read(fuzzID)
		if err != nil {
			checkOneLine(t, "Read", err)
			return
		}
		first, err := encodeState(st)
		if err != nil {
			t.Fatalf("encodeState of a state Read accepted: %v", err)
		}
		var again State
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("a saved state does not read back: %v\n%s", err, first)
		}
		if second, err := encodeState(&again); err != nil || !bytes.Equal(first, second) {
			t.Fatalf("encode, read, encode differs (%v):\n first  %s\n second %s", err, first, second)
		}
		checkSpecRecord(t, st.Spec)
	})
}

// checkSpecRecord runs the record's decoders as the commands do: hooks
// (delete), resources and their replacement (update), the whole spec. A
// nil record (a state without a spec) is never replaced or encoded.
func checkSpecRecord(t *testing.T, r *SpecRecord) {
	t.Helper()
	if _, err := r.Hooks(); err != nil {
		checkOneLine(t, "Hooks", err)
	}
	if _, err := r.Spec(); err != nil {
		checkOneLine(t, "Spec", err)
	}
	res, err := r.Resources()
	if err != nil {
		checkOneLine(t, "Resources", err)
		return
	}
	if r == nil {
		return
	}
	if err := r.SetResources(res); err != nil {
		checkOneLine(t, "SetResources", err)
	}
	if _, err := r.MarshalJSON(); err != nil {
		checkOneLine(t, "MarshalJSON", err)
	}
}

// stateSeeds are TestEncodeStateSameAsJSON's states and
// TestCorruptState's files, and a state with every field set.
func stateSeeds(f *testing.F) [][]byte {
	full := State{
		ID: fuzzID, OCIVersion: "1.3.0", Bundle: "/b", Rootfs: "/b/rootfs", Created: time.Unix(1700000000, 5).UTC(),
		Annotations: map[string]string{"a": "b"}, InitPid: 42, InitStartTime: 123456, Ready: true,
		CgroupPaths: map[string]string{"": "/sys/fs/cgroup/c", "cpu": "/sys/fs/cgroup/cpu/c"}, CgroupDriver: "systemd",
		CgroupsPath: "system.slice:rt:c", HostMounts: &rootfs.HostMounts{Rootfs: "/b/rootfs", Parent: 30, MountNS: 4026531841},
		IntelRdt: &intelrdt.Group{Root: "/sys/fs/resctrl", Path: "/sys/fs/resctrl/c", Remove: true},
		Spec: RecordSpec(&specs.Spec{Version: "1.3.0", Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"},
			Hooks: &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
			Linux: &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}}}),
	}
	seeds := [][]byte{[]byte("{"), []byte(`{"id":"other"}`)}
	for _, c := range append(encodeStateCases(f), encodeStateCase{"full", full}) {
		c.st.ID = fuzzID
		data, err := encodeState(&c.st)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// checkOneLine fails t unless err, returned by fn, reads as one line.
func checkOneLine(t *testing.T, fn string, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("%s: error of several lines: %q", fn, msg)
	}
}
