package specjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkMarshal fails unless Marshal writes what encoding/json writes.
func checkMarshal(t *testing.T, s *specs.Spec) {
	t.Helper()
	want, wantErr := json.Marshal(s)
	got, err := Marshal(s)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Marshal error %v, encoding/json error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal differs from encoding/json:\n got  %s\n want %s", got, want)
	}
}

func TestMarshal(t *testing.T) {
	var full specs.Spec
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	t.Run("every field", func(t *testing.T) { checkMarshal(t, &full) })
	full.Windows.CredentialSpec = map[string]any{"a": []int{1}, "<": "&"}
	t.Run("interface", func(t *testing.T) { checkMarshal(t, &full) })
	t.Run("zero", func(t *testing.T) { checkMarshal(t, &specs.Spec{}) })
	t.Run("nil", func(t *testing.T) { checkMarshal(t, nil) })
	for name, data := range fastSamples(t) {
		t.Run(name, func(t *testing.T) {
			var s specs.Spec
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatal(err)
			}
			checkMarshal(t, &s)
		})
	}
}

// FuzzMarshal encodes whatever encoding/json decodes, both ways.
func FuzzMarshal(f *testing.F) {
	for _, data := range fastSamples(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		checkMarshal(t, &s)
	})
}
