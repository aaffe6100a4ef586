// Command fuzzmerge folds the corpus `go test -fuzz` grew in the build
// cache into the packages' testdata/fuzz/, keeping only inputs that cover
// code no smaller kept input covers, so that the committed corpus stays
// small and plain `go test` runs every input worth keeping.
//
// For each target (scripts/fuzz.sh -l, or those matching the argument) it
// builds the package's test binary with coverage, runs the target's f.Add
// seeds, then every candidate alone (the committed files, then the
// cache's by size), and keeps a cache input only if it covers a block, or
// runs one a number of times (in powers of two, as the fuzzer counts), that
// nothing before it did. Committed files are never removed: they are
// regression seeds. It writes the kept inputs and prints what it did per
// target.
//
// Usage: go run ./test/fuzzmerge [REGEXP]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: go run ./test/fuzzmerge [REGEXP]") }
	flag.Parse()
	filter := regexp.MustCompile(flag.Arg(0))
	cache, err := goEnv("GOCACHE")
	if err != nil {
		fatal(err)
	}
	mod, err := goList("-m")
	if err != nil {
		fatal(err)
	}
	out, err := exec.Command("scripts/fuzz.sh", "-l").Output()
	if err != nil {
		fatal(fmt.Errorf("scripts/fuzz.sh -l: %w", err))
	}
	tmp, err := os.MkdirTemp("", "fuzzmerge-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(tmp)
	bins := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		dir, name, ok := strings.Cut(sc.Text(), " ")
		if !ok || !filter.MatchString(sc.Text()) {
			continue
		}
		bin, ok := bins[dir]
		if !ok {
			bin = filepath.Join(tmp, strings.ReplaceAll(strings.TrimPrefix(dir, "./"), "/", "_")+".test")
			if b, err := exec.Command("go", "test", "-c", "-cover", "-covermode=count", "-coverpkg=./pkg/...", "-o", bin, dir).CombinedOutput(); err != nil {
				fatal(fmt.Errorf("build %s with coverage: %v\n%s", dir, err, b))
			}
			bins[dir] = bin
		}
		t := target{dir: dir, name: name, bin: bin, tmp: tmp,
			cached: filepath.Join(cache, "fuzz", mod, strings.TrimPrefix(dir, "./"), name)}
		if err := t.merge(); err != nil {
			fatal(err)
		}
	}
}

type target struct {
	dir, name, bin, tmp string
	cached              string // the build cache's corpus of the target
}

type input struct {
	path      string
	size      int64
	committed bool
}

func (t *target) merge() error {
	dest := filepath.Join(t.dir, "testdata", "fuzz", t.name)
	ins := append(listInputs(dest, true), listInputs(t.cached, false)...)
	// Committed first (always kept), then the smallest: a small input
	// that covers a block is the better seed for it.
	sort.SliceStable(ins, func(i, j int) bool {
		if ins[i].committed != ins[j].committed {
			return ins[i].committed
		}
		return ins[i].size < ins[j].size
	})
	covered := map[string]bool{}
	seeds, err := t.coverage("seed#[0-9]+")
	if err != nil {
		return err
	}
	for _, b := range seeds {
		covered[b] = true
	}
	kept, added := 0, 0
	for _, in := range ins {
		if _, err := os.Stat(filepath.Join(dest, filepath.Base(in.path))); !in.committed && err == nil {
			continue // committed under the same name
		}
		if err := place(in, dest); err != nil {
			return err
		}
		blocks, err := t.coverage(regexp.QuoteMeta(filepath.Base(in.path)))
		if err != nil {
			return err
		}
		fresh := false
		for _, b := range blocks {
			if !covered[b] {
				covered[b], fresh = true, true
			}
		}
		if in.committed {
			kept++
			continue
		}
		if !fresh {
			os.Remove(filepath.Join(dest, filepath.Base(in.path)))
			continue
		}
		added++
	}
	fmt.Printf("%s %s: %d committed, %d of %d cached inputs added, %d blocks covered\n",
		t.dir, t.name, kept, added, len(ins)-kept, len(covered))
	return nil
}

// place copies a cache input into dest, where the test binary runs it by
// name (testdata/fuzz/<target>/<name>); it stays there if it is kept.
func place(in input, dest string) error {
	if in.committed {
		return nil
	}
	data, err := os.ReadFile(in.path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dest, filepath.Base(in.path)), data, 0o644)
}

// coverage runs the target's subtests matching sub and returns what they
// covered: each block run, with the power of two its count reaches.
func (t *target) coverage(sub string) ([]string, error) {
	prof := filepath.Join(t.tmp, "cover.out")
	cmd := exec.Command(t.bin, "-test.run", "^"+t.name+"$/^"+sub+"$", "-test.coverprofile", prof)
	cmd.Dir = t.dir
	os.Remove(prof)
	if out, err := cmd.CombinedOutput(); err != nil {
		// A failing input (a crash fuzz.sh just saved) is kept and
		// counted all the same: it is a regression seed to be.
		fmt.Fprintf(os.Stderr, "fuzzmerge: %s %s/%s fails (%v):\n%s", t.dir, t.name, sub, err, out)
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		return nil, err
	}
	var blocks []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// "file:l.c,l.c stmts count"
		f := strings.Fields(line)
		if len(f) != 3 || f[2] == "0" {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: count %q", prof, f[2])
		}
		blocks = append(blocks, f[0]+"#"+strconv.Itoa(min(bits.Len64(n), 8)))
	}
	return blocks, nil
}

func listInputs(dir string, committed bool) []input {
	entries, _ := os.ReadDir(dir)
	var ins []input
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			ins = append(ins, input{path: filepath.Join(dir, e.Name()), size: info.Size(), committed: committed})
		}
	}
	return ins
}

func goEnv(key string) (string, error) {
	out, err := exec.Command("go", "env", key).Output()
	return strings.TrimSpace(string(out)), err
}

func goList(args ...string) (string, error) {
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "fuzzmerge:", err)
	os.Exit(1)
}
