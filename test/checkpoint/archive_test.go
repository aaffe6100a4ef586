package checkpoint_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// TestArchiveExportImport checkpoints a counter with --export into a
// .tar.zst, deletes it, and restores it with --import into a fresh copy of
// the bundle: the counter goes on from where it was, and the file the
// container wrote before the checkpoint is in the new rootfs (the
// archive's rootfs-diff.tar). inspect reads the archive and shows the
// process tree; checkpointctl, when installed, reads it too. An archive
// with a "../" entry is refused with one line, leaving no container and
// no temporary directory.
func TestArchiveExportImport(t *testing.T) {
	requireCRIU(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c := startCounter(t, []string{"sh", "-c", "sleep 600 & " + counterScript})
	if res := c.r.RT("exec", c.id, "sh", "-c", "echo kept > /marker"); res.Code != 0 {
		t.Fatalf("exec: %s", res)
	}
	before := c.waitCount(t, 3)
	archive := filepath.Join(t.TempDir(), "ckpt.tar.zst")
	res := c.r.RT("checkpoint", "--export", archive, c.id)
	if res.Code != 0 || res.Stdout != "" {
		t.Fatalf("checkpoint --export: %s", res)
	}
	if _, ok := c.state(t); ok {
		t.Fatalf("container still exists after checkpoint")
	}
	c.r.AssertNoTrace(t, c.id, c.bundle)
	if _, err := os.Stat(filepath.Join(c.bundle, "checkpoint")); err == nil {
		t.Errorf("--export without --image-path left ./checkpoint images")
	}
	assertNoTemp(t, tmp)

	// inspect reads the archive as it reads an image directory.
	ins := c.r.Exec(c.r.Bins.Checkpoint, "--root", c.r.Root, "inspect", "--image-path", archive, "--format", "json")
	var info api.ImageInfo
	if ins.Code != 0 || json.Unmarshal([]byte(ins.Stdout), &info) != nil {
		t.Fatalf("inspect of the archive: %s", ins)
	}
	cmds := map[string]bool{}
	for _, p := range info.Processes {
		cmds[p.Command] = true
	}
	if info.ImagePath != archive || len(info.Processes) < 2 || info.Processes[0].Command != "sh" || !cmds["sleep"] ||
		info.Container == nil || info.Container.ID != c.id || info.DumpStats == nil {
		t.Errorf("inspect of the archive: %+v", info)
	}
	text := c.r.Exec(c.r.Bins.Checkpoint, "--root", c.r.Root, "inspect", "--image-path", archive)
	if text.Code != 0 || !strings.Contains(text.Stdout, "Processes (") || !strings.Contains(text.Stdout, " sleep\n") {
		t.Errorf("inspect text of the archive: %s", text)
	}
	assertNoTemp(t, tmp)

	// checkpointctl (podman's and Kubernetes' tool) reads rt's archive.
	if cc, err := exec.LookPath("checkpointctl"); err == nil {
		out, err := exec.Command(cc, "show", archive).CombinedOutput()
		t.Logf("checkpointctl show:\n%s", out)
		if err != nil || !strings.Contains(string(out), c.id) || !strings.Contains(string(out), "| rt ") {
			t.Errorf("checkpointctl show: %v: %s", err, out)
		}
	} else {
		t.Log("checkpointctl not installed: not checked with it")
	}

	// A fresh bundle, as on another host: the same rootfs as created.
	fresh := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", "sleep 600 & " + counterScript}
		s.Root.Readonly = false
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: c.data, Options: []string{"rbind", "rw"}})
	})
	c.bundle = fresh
	res = c.r.RT("restore", "-d", "--import", archive, "--bundle", fresh, c.id)
	if res.Code != 0 {
		t.Fatalf("restore --import: %s", res)
	}
	if data, _ := os.ReadFile(filepath.Join(fresh, "rootfs", "marker")); string(data) != "kept\n" {
		t.Errorf("the rootfs diff was not applied: /marker = %q", data)
	}
	after := c.count(t)
	if after < before {
		t.Errorf("restored counter at %d, was %d at checkpoint: it restarted", after, before)
	}
	c.waitCount(t, after+2)
	assertNoTemp(t, tmp)

	// The id is in use: refused before the archive touches the rootfs.
	os.Remove(filepath.Join(fresh, "rootfs", "marker"))
	res = c.r.RT("restore", "-d", "--import", archive, "--bundle", fresh, c.id)
	if msg := oneLine(t, res); res.Code == 0 || !strings.Contains(msg, "exist") {
		t.Errorf("restore --import over a running id: %s", res)
	}
	if _, err := os.Stat(filepath.Join(fresh, "rootfs", "marker")); err == nil {
		t.Errorf("the refused import applied its rootfs diff")
	}
	assertNoTemp(t, tmp)

	// A bad archive: one "../" entry among good ones.
	if res := c.r.RT("delete", "--force", c.id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"config.dump", "checkpoint/inventory.img", "../escaped"} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: 2})
		tw.Write([]byte("{}"))
	}
	tw.Close()
	os.WriteFile(bad, buf.Bytes(), 0o600)
	res = c.r.RT("restore", "-d", "--import", bad, "--bundle", fresh, c.id)
	msg := oneLine(t, res)
	if res.Code == 0 || !strings.Contains(msg, "../escaped") || !strings.Contains(msg, "refused") {
		t.Errorf("restore of a bad archive: %s, want one line refusing ../escaped", res)
	}
	if _, ok := c.state(t); ok {
		t.Errorf("a container exists after the refused import")
	}
	for _, p := range []string{filepath.Join(filepath.Dir(bad), "escaped"), filepath.Join(tmp, "escaped")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s written", p)
		}
	}
	assertNoTemp(t, tmp)
	ins = c.r.Exec(c.r.Bins.Checkpoint, "--root", c.r.Root, "inspect", "--image-path", bad)
	if msg := oneLine(t, ins); ins.Code != 1 || !strings.Contains(msg, "../escaped") {
		t.Errorf("inspect of a bad archive: %s", ins)
	}
	assertNoTemp(t, tmp)
}

// assertNoTemp checks rt-checkpoint left none of its temporary
// directories or files in dir (its TMPDIR).
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, "rt-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
