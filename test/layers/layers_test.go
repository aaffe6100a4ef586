// Package layers checks the import rule of docs/architecture.md: the
// "Packages" table lists every package under pkg/, and each imports only
// packages listed below it.
package layers

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/rtkit/rt/"

// repo is the checkout's root.
func repo(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// tableOrder is the packages of the architecture's "Packages" table, top
// first.
func tableOrder(t *testing.T, doc io.Reader) []string {
	t.Helper()
	row := regexp.MustCompile("^\\| `(pkg/[a-z0-9]+)` \\|")
	var order []string
	in := false
	sc := bufio.NewScanner(doc)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## Packages"):
			in = true
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in:
			if m := row.FindStringSubmatch(line); m != nil {
				order = append(order, m[1])
			}
		}
	}
	if len(order) == 0 {
		t.Fatal("no package rows under \"## Packages\" in docs/architecture.md")
	}
	return order
}

// top is the table's name for an import path: pkg/x for pkg/x/... and
// "" for what is not under pkg/.
func top(path string) string {
	rel, ok := strings.CutPrefix(path, module)
	if !ok || !strings.HasPrefix(rel, "pkg/") {
		return ""
	}
	parts := strings.SplitN(rel, "/", 3)
	return parts[0] + "/" + parts[1]
}

// violations lists the imports that break the rule, given the table's
// order and each package's imports.
func violations(order []string, imports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		i := slices.Index(order, top(pkg))
		if i < 0 {
			out = append(out, pkg+": not in the table")
			continue
		}
		for _, d := range deps {
			dt := top(d)
			if dt == "" || dt == top(pkg) {
				continue
			}
			if j := slices.Index(order, dt); j <= i {
				out = append(out, strings.TrimPrefix(pkg, module)+" imports "+strings.TrimPrefix(d, module)+", which the table lists above it")
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestViolations(t *testing.T) {
	order := []string{"pkg/a", "pkg/b"}
	tests := []struct {
		name    string
		imports map[string][]string
		want    int
	}{
		{"down", map[string][]string{module + "pkg/a": {module + "pkg/b", "fmt"}}, 0},
		{"up", map[string][]string{module + "pkg/b": {module + "pkg/a"}}, 1},
		{"subpackage", map[string][]string{module + "pkg/b/internal/x": {module + "pkg/a"}}, 1},
		{"within", map[string][]string{module + "pkg/b/internal/x": {module + "pkg/b"}}, 0},
		{"missing", map[string][]string{module + "pkg/c": nil}, 1},
	}
	for _, tt := range tests {
		if got := violations(order, tt.imports); len(got) != tt.want {
			t.Errorf("%s: %v, want %d", tt.name, got, tt.want)
		}
	}
}

// listImports is `go list`'s direct imports (not tests') of patterns.
func listImports(t *testing.T, root string, deps bool, patterns ...string) map[string][]string {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Imports"}
	if deps {
		args = append(args, "-deps")
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir, cmd.Stderr = root, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[p.ImportPath] = p.Imports
	}
	return imports
}

func TestImportRule(t *testing.T) {
	root := repo(t)
	doc, err := os.Open(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	order := tableOrder(t, doc)
	for _, v := range violations(order, listImports(t, root, false, "./pkg/...")) {
		t.Error(v)
	}
}

// TestRTWithoutCRIU: rt itself links neither pkg/checkpoint nor go-criu,
// whose initialisation would slow every command (they are rt-checkpoint's).
func TestRTWithoutCRIU(t *testing.T) {
	for pkg := range listImports(t, repo(t), true, "./cmd/rt", "./cmd/rt-init") {
		if top(pkg) == "pkg/checkpoint" || strings.Contains(pkg, "go-criu") {
			t.Errorf("rt or rt-init links %s", pkg)
		}
	}
}

// TestCLIWithoutConfig: pkg/cli is reusable by another runtime without rt's
// host configuration (its example builds a toy runtime on it).
func TestCLIWithoutConfig(t *testing.T) {
	for pkg := range listImports(t, repo(t), true, "./pkg/cli") {
		if top(pkg) == "pkg/config" || top(pkg) == "pkg/version" {
			t.Errorf("pkg/cli links %s", pkg)
		}
	}
}
