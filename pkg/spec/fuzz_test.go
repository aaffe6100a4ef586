package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/specjson"
)

// FuzzParse feeds config.json bytes through Parse (decode, then Validate),
// as create reads a bundle: whatever the bytes, no panic, and a refusal is
// one line that wraps ErrInvalid. A config Parse accepts is accepted again
// once encoded, and encodes the same the second time; its compat warning is
// one line too.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			checkOneLine(t, err)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: %v does not wrap ErrInvalid", err)
			}
			return
		}
		first, err := specjson.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal of an accepted config: %v", err)
		}
		again, err := Parse(first)
		if err != nil {
			t.Fatalf("Parse accepted a config but refuses it encoded: %v\n%s", err, first)
		}
		second, err := specjson.Marshal(again)
		if err != nil {
			t.Fatalf("Marshal of the re-parsed config: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("encode, parse, encode differs:\n first  %s\n second %s", first, second)
		}
		if w := AbsMountDestinations(s); strings.ContainsAny(w, "\r\n") {
			t.Fatalf("AbsMountDestinations: warning of several lines: %q", w)
		}
	})
}

// parseSeeds are the configs of the tests: the defaults, runc's and crun's
// (pkg/specjson's testdata), TestValidate's and TestValidateProcAttrs's
// changes to validSpec, and TestParseJSONErrors's bad JSON.
func parseSeeds(f *testing.F) [][]byte {
	encode := func(s *specs.Spec) []byte {
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	seeds := [][]byte{encode(Default(false)), encode(Default(true))}
	files, err := filepath.Glob(filepath.Join("..", "specjson", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed configs in pkg/specjson/testdata (%v)", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	for _, c := range validateCases() {
		s := validSpec()
		c.mutate(s)
		seeds = append(seeds, encode(s))
	}
	for _, c := range procAttrCases() {
		s := validSpec()
		c.edit(s)
		seeds = append(seeds, encode(s))
	}
	for _, c := range jsonErrorCases() {
		seeds = append(seeds, []byte(c.data))
	}
	return seeds
}

// checkOneLine fails t unless err reads as one line.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error of several lines: %q", msg)
	}
}
