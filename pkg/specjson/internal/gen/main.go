// Command gen writes pkg/specjson's decoder and encoder of specs.Spec: a
// function pair per Go type reachable from it, found by reflection here so
// that none is needed at run time. Field names follow encoding/json's rules
// (tags, "-", embedded structs, omitempty); a type the generated code cannot
// handle exactly the way encoding/json does (an interface when decoding, a
// float, []byte) hands the whole input back to encoding/json.
//
// Usage: go run ./internal/gen [-dir DIR] (go generate does it).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/specjson/internal/gen/emit"
)

func main() {
	dir := flag.String("dir", ".", "directory to write spec_decode.go and spec_encode.go in")
	flag.Parse()
	files, err := emit.Files(specs.Spec{})
	if err != nil {
		log.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), src, 0o644); err != nil {
			log.Fatal(fmt.Errorf("write %s: %w", name, err))
		}
	}
}
