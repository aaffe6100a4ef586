package checkpoint_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/api"
)

// TestInspect checkpoints a running counter (sh, with a long sleep in the
// background so that the tree surely has a child, whatever instant the dump
// falls on) with --leave-running and a separate --work-path, then
// inspects the image with rt-checkpoint in text and JSON: the process
// tree, pages, the container's record and CRIU's statistics are there, and
// checkpoint itself printed nothing. A directory that is not an image is one
// error line and exit 1.
func TestInspect(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, []string{"sh", "-c", "sleep 600 & " + counterScript})
	images := filepath.Join(t.TempDir(), "img")
	work := filepath.Join(t.TempDir(), "work")
	res := c.r.RT("checkpoint", "--leave-running", "--image-path", images, "--work-path", work, c.id)
	if res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	if res.Stdout != "" {
		t.Errorf("checkpoint wrote to stdout (runc prints nothing): %q", res.Stdout)
	}
	inspect := func(args ...string) string {
		t.Helper()
		res := c.r.Exec(c.r.Bins.Checkpoint, append([]string{"--root", c.r.Root, "inspect", "--image-path", images}, args...)...)
		if res.Code != 0 || res.Stderr != "" {
			t.Fatalf("inspect %v: %s", args, res)
		}
		return res.Stdout
	}

	var info api.ImageInfo
	out := inspect("--format", "json")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("inspect --format json: %v: %s", err, out)
	}
	commands := map[string]bool{}
	for _, p := range info.Processes {
		commands[p.Command] = true
	}
	if len(info.Processes) == 0 || info.Processes[0].Pid != 1 || info.Processes[0].PPid != 0 || info.Processes[0].Command != "sh" {
		t.Errorf("process tree does not start with the init (pid 1, sh): %+v", info.Processes)
	}
	if !commands["sleep"] {
		t.Errorf("no sleep in the dumped tree: %+v", info.Processes)
	}
	for _, p := range info.Processes[1:] {
		if p.PPid != 1 || p.Pid <= 1 || p.Threads != 1 {
			t.Errorf("process %+v: want a single-threaded child of the init", p)
		}
	}
	if info.Memory.Pages == 0 || info.Memory.Bytes == 0 || info.Memory.MappedPages < info.Memory.Pages {
		t.Errorf("memory: %+v, want pages > 0 and mapped >= pages", info.Memory)
	}
	if rec := info.Container; rec == nil || rec.ID != c.id || rec.Bundle != c.bundle || rec.Rootfs == "" || rec.RTVersion == "" ||
		rec.Created.IsZero() || rec.ContainerCreated.After(rec.Created) {
		t.Errorf("container record: %+v, want id %s, bundle %s", info.Container, c.id, c.bundle)
	}
	var data *api.ImageMount
	for i, m := range info.Mounts {
		if m.Mountpoint == "/data" {
			data = &info.Mounts[i]
		}
	}
	if data == nil || !data.External {
		t.Errorf("the /data bind mount is not listed as external: %+v", info.Mounts)
	}
	// The dump used --work-path, where CRIU writes its statistics:
	// checkpoint kept a copy with the images.
	if s := info.DumpStats; s == nil || s.FrozenTimeUs == 0 || s.PagesScanned == 0 || s.PagesWritten == 0 {
		t.Errorf("dump statistics: %+v", info.DumpStats)
	}

	text := inspect()
	t.Logf("inspect:\n%s", text)
	for _, want := range []string{"Container:", c.id, "Processes (", " sh\n", "Memory:", "Mounts (", "/data",
		"Dump statistics:", "freezing time:", "frozen time:", "memdump time:", "memwrite time:", "pages scanned:", "pages written:"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output does not contain %q", want)
		}
	}

	// Without --work-path CRIU writes its statistics with the images.
	images2 := filepath.Join(t.TempDir(), "img2")
	if res := c.r.RT("checkpoint", "--leave-running", "--image-path", images2, c.id); res.Code != 0 || res.Stdout != "" {
		t.Fatalf("checkpoint without --work-path: %s", res)
	}
	images = images2
	info = api.ImageInfo{}
	if err := json.Unmarshal([]byte(inspect("-f", "json")), &info); err != nil || info.DumpStats == nil || info.Container == nil {
		t.Errorf("inspect of a dump without --work-path: %v, stats %+v, record %+v", err, info.DumpStats, info.Container)
	}

	notImage := t.TempDir()
	os.WriteFile(filepath.Join(notImage, "dump.log"), []byte("x"), 0o600)
	for _, dir := range []string{notImage, filepath.Join(notImage, "missing")} {
		res := c.r.Exec(c.r.Bins.Checkpoint, "--root", c.r.Root, "inspect", "--image-path", dir)
		msg := oneLine(t, res)
		if res.Code != 1 || res.Stdout != "" || !strings.Contains(msg, "not a checkpoint image") || !strings.Contains(msg, dir) {
			t.Errorf("inspect of %s: %s, want one line saying it is not a checkpoint image, exit 1", dir, res)
		}
	}
}
