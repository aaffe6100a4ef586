package specjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/specjson/internal/gen/emit"
)

// TestGeneratedUpToDate fails when spec_decode.go or spec_encode.go is not
// what the generator makes from today's specs-go, e.g. after a
// runtime-spec upgrade.
func TestGeneratedUpToDate(t *testing.T) {
	files, err := emit.Files(specs.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./pkg/specjson", name)
		}
	}
}

// fill sets every field reachable from v, so that a spec marshalled from it
// names every key the generated decoder must know. Interfaces stay nil
// (Windows' credentialSpec is encoding/json's).
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d \"é\"\n<a&b>\u2028\x01\x7f\xff\\", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	}
}

// fastSamples are inputs the generated decoder must decode itself.
func fastSamples(t testing.TB) map[string][]byte {
	t.Helper()
	var full specs.Spec
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	fullJSON, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string][]byte{
		"every field":          fullJSON,
		"empty object":         []byte(`{}`),
		"null":                 []byte(`null`),
		"nulls":                []byte(`{"process":null,"mounts":null,"annotations":null,"hostname":null,"linux":{"resources":{"memory":{"limit":null}}}}`),
		"empty containers":     []byte(`{"mounts":[],"annotations":{},"process":{"args":[]}}`),
		"escapes":              []byte(`{"hostname":"a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d","annotations":{"k\u00e9y":"v"}}`),
		"unknown keys":         []byte(`{"x-custom":{"a":[1,-2.5e+3,true,false,null,"\ud83d\ude00",{"b":"\u0000"}]},"ociVersion":"1.0.2"}`),
		"invalid utf8 unknown": []byte("{\"zz\":\"\xff\",\"ociVersion\":\"1.0.2\"}"),
		"whitespace":           []byte(" \t\r\n{ \"ociVersion\" : \"1.0.2\" , \"root\" : { \"path\" : \"rootfs\" } } \n"),
		"limits":               []byte(`{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":0}],"oomScoreAdj":-1000},"linux":{"resources":{"memory":{"limit":-1,"swappiness":0}}}}`),
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		samples[filepath.Base(f)] = data
	}
	return samples
}

func TestFastPath(t *testing.T) {
	for name, data := range fastSamples(t) {
		t.Run(name, func(t *testing.T) {
			got, ok := parseFast(data)
			if !ok {
				t.Fatal("left to encoding/json")
			}
			var want specs.Spec
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("differs from encoding/json:\n got  %+v\n want %+v", got, &want)
			}
		})
	}
}

// TestFallback covers what the generated decoder leaves to encoding/json:
// Parse still answers exactly as encoding/json does.
func TestFallback(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"key in other case", `{"OCIVERSION":"1.0.2"}`},
		{"duplicate key", `{"hostname":"a","hostname":"b"}`},
		{"duplicate struct key", `{"process":{"cwd":"/"},"process":{"args":["x"]}}`},
		{"escaped key", `{"ociVersio\u006e":"1.0.2"}`},
		{"non-ascii key", `{"ociVersİon":"1.0.2"}`},
		{"kelvin sign", "{\"\u212aernel\":1}"},
		{"surrogate pair", `{"hostname":"\ud83d\ude00"}`},
		{"lone surrogate", `{"hostname":"\ud83d"}`},
		{"invalid utf8", "{\"hostname\":\"\xff\"}"},
		{"overflow", `{"process":{"user":{"uid":4294967296}}}`},
		{"negative unsigned", `{"process":{"user":{"uid":-1}}}`},
		{"float into int", `{"process":{"user":{"uid":1.5}}}`},
		{"exponent into int", `{"process":{"user":{"uid":1e3}}}`},
		{"string into int", `{"process":{"user":{"uid":"0"}}}`},
		{"number into string", `{"hostname":1}`},
		{"array into struct", `{"process":[]}`},
		{"interface", `{"windows":{"credentialSpec":{"a":1}}}`},
		{"syntax error", `{"hostname":"a",}`},
		{"truncated", `{"hostname":"a"`},
		{"trailing data", `{} {}`},
		{"leading zero", `{"process":{"user":{"uid":01}}}`},
		{"bad literal", `{"process":{"terminal":tru}}`},
		{"bad escape", `{"hostname":"\x"}`},
		{"control character", "{\"hostname\":\"a\tb\"}"},
		{"top-level array", `[]`},
		{"empty input", ``},
		{"deep unknown", `{"x":` + string(bytes.Repeat([]byte("["), 600)) + string(bytes.Repeat([]byte("]"), 600)) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := parseFast([]byte(tt.data)); ok {
				t.Error("decoded by the generated decoder, want encoding/json")
			}
			checkSameAsJSON(t, []byte(tt.data))
		})
	}
}

// checkSameAsJSON fails unless Parse gives what encoding/json gives.
func checkSameAsJSON(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := Parse(data)
	var want specs.Spec
	wantErr := json.Unmarshal(data, &want)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("Parse error %v, encoding/json error %v", gotErr, wantErr)
	case wantErr != nil:
		if gotErr.Error() != wantErr.Error() {
			t.Fatalf("Parse error %q, encoding/json %q", gotErr, wantErr)
		}
	case !reflect.DeepEqual(got, &want):
		t.Fatalf("Parse differs from encoding/json:\n got  %+v\n want %+v", got, &want)
	}
}

// FuzzParse checks that whatever the generated decoder accepts, it decodes
// exactly as encoding/json does.
func FuzzParse(f *testing.F) {
	for _, data := range fastSamples(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"process":{"user":{"uid":1e3}},"Hostname":"x"}`))
	f.Add([]byte(`{"linux":{"resources":{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":10}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parseFast(data)
		if !ok {
			return
		}
		var want specs.Spec
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("generated decoder accepted what encoding/json refuses (%v)", err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("differs from encoding/json:\n got  %+v\n want %+v", got, &want)
		}
	})
}
