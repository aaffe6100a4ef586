package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/config"
)

var sampleImage = api.ImageInfo{
	ImagePath:        "/img",
	CRIUImageVersion: 2,
	Container: &api.CheckpointRecord{ID: "c1", OCIVersion: "1.3.0", Bundle: "/b", Rootfs: "/b/rootfs",
		Created: time.Date(2025, 1, 2, 4, 4, 5, 0, time.UTC), ContainerCreated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), RTVersion: "1.2.3"},
	Processes: []api.ImageProcess{{Pid: 1, Command: "sh", Threads: 1}, {Pid: 7, PPid: 1, Command: "sleep", Threads: 1}, {Pid: 9, PPid: 7, Command: "cat", Threads: 3}},
	Memory:    api.ImageMemory{Pages: 34, Bytes: 34 * 4096, MappedPages: 40},
	Mounts: []api.ImageMount{
		{Mountpoint: "/", Source: "/dev/vda", Root: "/b/rootfs"},
		{Mountpoint: "/data", Source: "/dev/vda", Root: "/host/data", External: true, ExternalKey: "/data"},
		{Mountpoint: "/proc/keys", FSType: "tmpfs", Source: "tmpfs", Root: "/null", External: true, ExternalKey: "/dev/null"},
	},
	DumpStats: &api.DumpStats{FreezingTimeUs: 1500, FrozenTimeUs: 214948, MemdumpTimeUs: 2042, MemwriteTimeUs: 524,
		PagesScanned: 48, PagesWritten: 34},
}

func TestWriteImageText(t *testing.T) {
	bare := sampleImage
	bare.Container, bare.DumpStats, bare.Mounts = nil, nil, nil
	tests := []struct {
		name      string
		info      api.ImageInfo
		want, not []string
	}{
		{"rt's image", sampleImage, []string{
			"Image:               /img\n",
			"Container:           c1\n",
			"Checkpointed:        2025-01-02T04:04:05Z\n",
			"Container created:   2025-01-02T03:04:05Z\n",
			"rt version:          1.2.3\n",
			"Memory:              34 pages (136.0 KiB) in the image, 40 mapped\n",
			"Processes (3):\n  PID  PPID  THREADS  COMMAND\n  1    0     1        sh\n  7    1     1          sleep\n  9    7     3            cat\n",
			"Mounts (3, 2 external):\n",
			"  /           -      /dev/vda  /b/rootfs   -\n",
			"  /data       -      /dev/vda  /host/data  yes\n",
			"  /proc/keys  tmpfs  tmpfs     /null       yes (/dev/null)\n",
			"  freezing time:           1.500 ms\n",
			"  frozen time:             214.948 ms\n",
			"  memwrite time:           0.524 ms\n",
			"  pages scanned:           48\n",
			"  pages written:           34\n",
		}, []string{"unknown", "none"}},
		{"runc's image, no stats", bare, []string{
			"Container:           unknown (no rt-checkpoint.json: not made by rt-checkpoint)\n",
			"Mounts (0, 0 external):\n",
			"Dump statistics: none (no stats-dump in the image directory)\n",
		}, []string{"Bundle:", "freezing time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeImageText(&buf, &tt.info); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}

// TestImageJSONNames pins the JSON field names scripts rely on
// (docs/checkpoint.md): renaming one breaks them.
func TestImageJSONNames(t *testing.T) {
	data, err := json.Marshal(sampleImage)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	keys := func(v any) []string {
		var k []string
		for name := range v.(map[string]any) {
			k = append(k, name)
		}
		slices.Sort(k)
		return k
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"top", m, "container criuImageVersion dumpStats imagePath memory mounts processes"},
		{"container", m["container"], "bundle containerCreated created id ociVersion rootfs rtVersion"},
		{"process", m["processes"].([]any)[0], "command pid ppid threads"},
		{"memory", m["memory"], "bytes mappedPages pages"},
		{"mount", m["mounts"].([]any)[1], "external externalKey mountpoint root source"},
		{"fstype", m["mounts"].([]any)[2], "external externalKey fstype mountpoint root source"},
		{"dumpStats", m["dumpStats"], "freezingTimeUs frozenTimeUs memdumpTimeUs memwriteTimeUs pagesLazy pagesScanned pagesSkippedParent pagesWritten"},
	}
	for _, tt := range tests {
		if got := strings.Join(keys(tt.v), " "); got != tt.want {
			t.Errorf("%s: fields %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProcessDepths(t *testing.T) {
	tests := []struct {
		name  string
		procs []api.ImageProcess
		want  map[int]int
	}{
		{"chain", []api.ImageProcess{{Pid: 1}, {Pid: 2, PPid: 1}, {Pid: 3, PPid: 2}, {Pid: 4, PPid: 1}}, map[int]int{1: 0, 2: 1, 3: 2, 4: 1}},
		{"parent outside the image", []api.ImageProcess{{Pid: 5, PPid: 99}, {Pid: 6, PPid: 5}}, map[int]int{5: 0, 6: 1}},
		{"cycle (corrupt image)", []api.ImageProcess{{Pid: 1, PPid: 2}, {Pid: 2, PPid: 1}}, map[int]int{1: 2, 2: 2}},
	}
	for _, tt := range tests {
		if got := processDepths(tt.procs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 139264: "136.0 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5120.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeInspector is an ImageInspector answering with info or err.
type fakeInspector struct {
	api.ContainerOperations
	info *api.ImageInfo
	err  error
	path string
}

func (f *fakeInspector) Inspect(_ context.Context, path string) (*api.ImageInfo, error) {
	f.path = path
	return f.info, f.err
}

// TestInspectCommand runs `rt-checkpoint inspect` in-process: the flags,
// the formats, and an inspector's error as one line with exit 1.
func TestInspectCommand(t *testing.T) {
	notImage := fmt.Errorf("image path /x: no inventory.img: %w", api.ErrNotImage)
	tests := []struct {
		name       string
		args       []string
		ops        api.ContainerOperations
		code       int
		out, errln string
	}{
		{"text", []string{"inspect", "--image-path", "/img"}, &fakeInspector{info: &sampleImage}, 0, "Container:           c1\n", ""},
		{"json", []string{"inspect", "--image-path", "/img", "--format", "json"}, &fakeInspector{info: &sampleImage}, 0, "\"criuImageVersion\": 2,", ""},
		{"not an image", []string{"inspect", "--image-path", "/x"}, &fakeInspector{err: notImage}, 1, "", "rt-checkpoint: image path /x: no inventory.img: not a checkpoint image\n"},
		{"no --image-path", []string{"inspect"}, &fakeInspector{}, 1, "", "--image-path is required"},
		{"bad format", []string{"inspect", "--image-path", "/img", "-f", "yaml"}, &fakeInspector{}, 1, "", "--format \"yaml\": must be text or json"},
		{"runtime without inspector", []string{"inspect", "--image-path", "/img"}, struct{ api.ContainerOperations }{}, 1, "", "inspect: not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			prog := Program{Name: "rt-checkpoint", Commands: CheckpointCommands(), Config: HostConfig{Flags: config.RegisterFlags},
				Factory: func(api.GlobalConfig) (api.ContainerOperations, error) { return tt.ops, nil }}
			args := append([]string{"--root", t.TempDir(), "--log", t.TempDir() + "/log"}, tt.args...)
			code := Main(prog, args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errln) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, stdout.String(), stderr.String(), tt.code, tt.out, tt.errln)
			}
			if tt.code != 0 && (stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1) {
				t.Errorf("a failure is not exactly one line on stderr: stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			if f, ok := tt.ops.(*fakeInspector); ok && tt.code == 0 && f.path != "/img" {
				t.Errorf("inspected %q, want /img", f.path)
			}
		})
	}
}
