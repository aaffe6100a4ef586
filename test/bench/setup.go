package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// installCopy copies rt and the rt-init and rt-checkpoint beside it into
// dir, as make install does (rt hands checkpoint and restore over to the
// rt-checkpoint next to it), and returns the copy of rt: the runtimes compared were installed by
// dpkg, and rt is timed as installed too, not as the file the Go linker
// wrote. (On this VM a freshly linked rt was once measured ~1 ms slower per
// call after a pause than a copy of the same bytes, until its pages were
// evicted and read back: the page cache of a file written through mmap.)
func installCopy(rt, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{filepath.Base(rt), "rt-init", "rt-checkpoint"} {
		src, err := os.Open(filepath.Join(filepath.Dir(rt), name))
		if err != nil {
			return "", fmt.Errorf("install %s: %w", name, err)
		}
		dst, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err == nil {
			_, err = io.Copy(dst, src)
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
		}
		src.Close()
		if err != nil {
			return "", fmt.Errorf("install %s: %w", name, err)
		}
	}
	return filepath.Join(dir, filepath.Base(rt)), nil
}

// cleanup deletes whatever a failed run left in the runtimes' roots, and
// the cgroup directories of the bench's containers that are left (crun's
// in /sys/fs/cgroup's tmpfs where the bench unmounted cgroup2).
func (b *bench) cleanup() {
	for _, rt := range b.rts {
		entries, _ := os.ReadDir(rt.root)
		for _, e := range entries {
			exec.Command(rt.path, "--root", rt.root, "delete", "--force", e.Name()).Run()
		}
	}
	left, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/bench-*-%d-*", os.Getpid()))
	for _, d := range left {
		removeLeftCgroup(d)
	}
}

// makeBundle writes a busybox bundle running args with runc's default spec
// otherwise.
func makeBundle(dir string, args ...string) (string, error) {
	if out, err := exec.Command("scripts/mkrootfs.sh", filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("mkrootfs: %v: %s", err, out)
	}
	if out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		return "", err
	}
	p := s["process"].(map[string]any)
	p["terminal"] = false
	p["args"] = args
	if data, err = json.Marshal(s); err != nil {
		return "", err
	}
	return dir, os.WriteFile(path, data, 0o644)
}
