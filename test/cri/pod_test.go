package cri_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// pod is a pod sandbox the suite runs with crictl runp, and removes (with
// its containers) when the test ends, checking that nothing of it is left.
type pod struct {
	s      *suite
	id     string
	name   string
	config string // the sandbox config's path (crictl create needs it too)
}

var podSeq atomic.Int64

// runPod runs a pod on the handler; edit may change the sandbox config
// (CRI's PodSandboxConfig, as crictl reads it) before.
func (s *suite) runPod(t *testing.T, edit func(cfg map[string]any)) *pod {
	t.Helper()
	name := fmt.Sprintf("pod%d", podSeq.Add(1))
	cfg := map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": s.name, "uid": name + "-" + s.name, "attempt": 0},
		"log_directory": filepath.Join(s.dir, "logs", name),
		"linux": map[string]any{
			// What kubelet's cgroupfs driver gives: the pod's own parent.
			"cgroup_parent":    "/" + s.name + "/" + name,
			"security_context": map[string]any{"namespace_options": map[string]any{}},
		},
	}
	if edit != nil {
		edit(cfg)
	}
	p := &pod{s: s, name: name, config: writeJSON(t, filepath.Join(s.dir, name+".json"), cfg)}
	p.id = s.must(t, "runp", "--runtime", handler, p.config)
	t.Cleanup(func() { p.remove(t) })
	return p
}

// remove stops and removes the pod (stopp, rmp) and checks that no
// process, mount, cgroup directory or runtime state of it is left.
func (p *pod) remove(t *testing.T) {
	t.Helper()
	if res := p.s.crictl(t, "stopp", p.id); res.code != 0 {
		t.Errorf("stopp: %s", res)
	}
	if res := p.s.crictl(t, "rmp", p.id); res.code != 0 {
		t.Errorf("rmp: %s", res)
	}
	p.assertGone(t)
}

// assertGone: nothing of the pod is left on the host.
func (p *pod) assertGone(t *testing.T) {
	t.Helper()
	parent := p.s.name + "/" + p.name
	var dirs []string
	harness.WaitFor(t, 5*time.Second, "the pod's container cgroups gone", func() bool {
		dirs = nil
		for _, d := range harness.CgroupTrees(parent) {
			if !strings.HasSuffix(d, "/"+parent) {
				dirs = append(dirs, d)
			}
		}
		return len(dirs) == 0
	})
	for _, d := range harness.CgroupTrees(parent) {
		if procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs")); len(strings.TrimSpace(string(procs))) > 0 {
			t.Errorf("processes left in %s: %s", d, procs)
		}
	}
	if ms := harness.MountsUnder(filepath.Join(p.s.dir, "state")); containsAny(ms, p.id) {
		t.Errorf("mounts of the pod left: %v", ms)
	}
	entries, _ := os.ReadDir(filepath.Join(p.s.runtimeRoot(), k8sNamespace))
	for _, e := range entries {
		if e.Name() == p.id {
			t.Errorf("the runtime's state of the sandbox %s is left", p.id)
		}
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

var ctrSeq atomic.Int64

// containerConfig is a CRI ContainerConfig running cmd in busybox; edit
// may change it.
func (p *pod) containerConfig(t *testing.T, cmd []string, edit func(cfg map[string]any)) string {
	t.Helper()
	name := fmt.Sprintf("c%d", ctrSeq.Add(1))
	cfg := map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": busyboxImage},
		"command":  cmd,
		"log_path": name + ".log",
		"linux":    map[string]any{"resources": map[string]any{}, "security_context": map[string]any{}},
	}
	if edit != nil {
		edit(cfg)
	}
	return writeJSON(t, filepath.Join(p.s.dir, p.name+"-"+name+".json"), cfg)
}

// create is crictl create in the pod; the result is the caller's to check.
func (p *pod) create(t *testing.T, cmd []string, edit func(cfg map[string]any)) result {
	t.Helper()
	return p.s.crictl(t, "create", p.id, p.containerConfig(t, cmd, edit), p.config)
}

// start creates and starts a container running cmd in the pod and returns
// its id.
func (p *pod) start(t *testing.T, cmd []string, edit func(cfg map[string]any)) string {
	t.Helper()
	id := p.s.must(t, "create", p.id, p.containerConfig(t, cmd, edit), p.config)
	p.s.must(t, "start", id)
	return id
}

// inspect is crictl inspect (or inspectp) of id, decoded.
func (s *suite) inspect(t *testing.T, verb, id string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s.must(t, verb, "-o", "json", id)), &v); err != nil {
		t.Fatalf("%s %s: %v", verb, id, err)
	}
	return v
}

// field walks v along keys (map keys, in order), returning nil where one
// is missing.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// waitExited waits for the container to exit and returns its status.
func (s *suite) waitExited(t *testing.T, id string) map[string]any {
	t.Helper()
	var status map[string]any
	harness.WaitFor(t, 30*time.Second, "container "+id+" exited", func() bool {
		status, _ = field(s.inspect(t, "inspect", id), "status").(map[string]any)
		return status["state"] == "CONTAINER_EXITED"
	})
	return status
}

// execSync runs cmd in the container with crictl exec -s and returns
// its output.
func (s *suite) execSync(t *testing.T, id string, cmd ...string) string {
	t.Helper()
	return s.must(t, append([]string{"exec", "-s", id}, cmd...)...)
}

// cgroupFile reads file of the container's cgroup in the v1 hierarchy of
// controller (the suite's pods are in cgroups below /<suite>/<pod>).
func (p *pod) cgroupFile(t *testing.T, id, controller, file string) string {
	t.Helper()
	path := field(p.s.inspect(t, "inspect", id), "info", "runtimeSpec", "linux", "cgroupsPath")
	cg, ok := path.(string)
	if !ok || !strings.HasPrefix(cg, "/"+p.s.name+"/"+p.name+"/") {
		t.Fatalf("container %s: cgroupsPath %v, want one below /%s/%s", id, path, p.s.name, p.name)
	}
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, cg, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func writeJSON(t *testing.T, path string, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}
