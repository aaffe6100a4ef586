package store

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSpecRecordRoundTrip: a spec saved with the state comes back whole,
// whether a command decoded it, decoded only the hooks, or never looked.
func TestSpecRecordRoundTrip(t *testing.T) {
	spec := &specs.Spec{
		Version:  "1.3.0",
		Hostname: "h",
		Process:  &specs.Process{Args: []string{"sh"}, Cwd: "/"},
		Hooks:    &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Args: []string{"true", "x"}}}},
		Linux:    &specs.Linux{CgroupsPath: "/c"},
	}
	tests := []struct {
		name string
		// touch is what a command does with the record it read.
		touch func(t *testing.T, r *SpecRecord)
		want  func(s *specs.Spec)
	}{
		{"untouched", func(t *testing.T, r *SpecRecord) {}, nil},
		{"hooks only", func(t *testing.T, r *SpecRecord) {
			h, err := r.Hooks()
			if err != nil || h == nil || len(h.Poststop) != 1 || h.Poststop[0].Args[1] != "x" {
				t.Errorf("Hooks = %+v, %v", h, err)
			}
		}, nil},
		{"changed", func(t *testing.T, r *SpecRecord) {
			s, err := r.Spec()
			if err != nil {
				t.Fatal(err)
			}
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(7))}}
		}, func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(7))}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(filepath.Join(t.TempDir(), "root"))
			h, err := s.Create("c")
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if err := h.Save(&State{ID: "c", Spec: RecordSpec(spec)}); err != nil {
				t.Fatal(err)
			}
			st, err := s.Read("c")
			if err != nil {
				t.Fatal(err)
			}
			tt.touch(t, st.Spec)
			if err := h.Save(st); err != nil {
				t.Fatal(err)
			}
			again, err := s.Read("c")
			if err != nil {
				t.Fatal(err)
			}
			got, err := again.Spec.Spec()
			if err != nil {
				t.Fatal(err)
			}
			want := *spec
			l := *spec.Linux
			want.Linux = &l
			if tt.want != nil {
				tt.want(&want)
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("spec after save:\n got %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestSpecRecordNil(t *testing.T) {
	var r *SpecRecord
	if s, err := r.Spec(); s != nil || err != nil {
		t.Errorf("Spec of nil = %v, %v", s, err)
	}
	if h, err := r.Hooks(); h != nil || err != nil {
		t.Errorf("Hooks of nil = %v, %v", h, err)
	}
	if res, err := r.Resources(); res != nil || err != nil {
		t.Errorf("Resources of nil = %v, %v", res, err)
	}
	if b, err := r.MarshalJSON(); string(b) != "null" || err != nil {
		t.Errorf("MarshalJSON of nil = %s, %v", b, err)
	}
	if err := r.SetResources(&specs.LinuxResources{}); err == nil {
		t.Error("SetResources on nil: no error")
	}
	if RecordSpec(nil) != nil {
		t.Error("RecordSpec(nil) is not nil")
	}
	bad := &SpecRecord{}
	if err := bad.UnmarshalJSON([]byte(`{"hooks": 3}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Hooks(); err == nil {
		t.Error("Hooks of a malformed spec: no error")
	}
	if _, err := bad.Spec(); err == nil {
		t.Error("Spec of a malformed spec: no error")
	}
}

func ptr[T any](v T) *T { return &v }

// TestSpecRecordResources: update's partial path reads and replaces
// linux.resources and keeps every other field, whether or not the whole
// spec was decoded first.
func TestSpecRecordResources(t *testing.T) {
	base := func() *specs.Spec {
		return &specs.Spec{
			Version:  "1.3.0",
			Hostname: "h",
			Process:  &specs.Process{Args: []string{"sh"}, Cwd: "/"},
			Linux: &specs.Linux{
				CgroupsPath: "/c",
				Devices:     []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}},
				Resources:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}},
			},
		}
	}
	newRes := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 20))}}
	tests := []struct {
		name   string
		spec   *specs.Spec
		decode bool // decode the whole spec before
	}{
		{"raw", base(), false},
		{"decoded", base(), true},
		{"raw, no linux", &specs.Spec{Version: "1.3.0"}, false},
		{"decoded, no linux", &specs.Spec{Version: "1.3.0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := (&SpecRecord{spec: tt.spec}).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			r := &SpecRecord{}
			if err := r.UnmarshalJSON(data); err != nil {
				t.Fatal(err)
			}
			if tt.decode {
				if _, err := r.Spec(); err != nil {
					t.Fatal(err)
				}
			}
			res, err := r.Resources()
			if err != nil {
				t.Fatal(err)
			}
			var wantRes *specs.LinuxResources
			if tt.spec.Linux != nil {
				wantRes = tt.spec.Linux.Resources
			}
			if !reflect.DeepEqual(res, wantRes) {
				t.Errorf("Resources = %+v, want %+v", res, wantRes)
			}
			if err := r.SetResources(newRes); err != nil {
				t.Fatal(err)
			}
			out, err := r.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var got specs.Spec
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := *tt.spec
			if want.Linux == nil {
				want.Linux = &specs.Linux{}
			} else {
				l := *want.Linux
				want.Linux = &l
			}
			want.Linux.Resources = newRes
			if !reflect.DeepEqual(&got, &want) {
				t.Errorf("after SetResources:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
