package checkpoint

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rtkit/rt/pkg/api"
)

// TestInspectCRIUImages runs inspect over real dumps, one per CRIU
// version, of the same container (testdata/README.md says how they were
// made): the two processes, the memory, the mounts, the inventory, rt's
// record and CRIU's statistics. The pages files are kept whole, so the
// numbers are exact; CRIU's own count of the pages it wrote (stats-dump)
// must match both the pagemaps and the pages files.
func TestInspectCRIUImages(t *testing.T) {
	if os.Getpagesize() != 4096 {
		t.Skip("the images were dumped with 4 KiB pages")
	}
	tests := []struct {
		criu  string // the version that dumped testdata/criu-<version>
		id    string
		pages uint64
	}{
		// nr_pages in pagemap_entry's field 2 (uint32).
		{"4.1.1", "pause41", 12},
		// nr_pages in field 5 (uint64); field 2 (compat_nr_pages) is 0.
		{"4.2.1", "pause42", 10},
	}
	for _, tt := range tests {
		t.Run(tt.criu, func(t *testing.T) {
			dir := filepath.Join("testdata", "criu-"+tt.criu)
			info, err := InspectImage(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info.CRIUImageVersion != 2 {
				t.Errorf("inventory image version %d, want 2", info.CRIUImageVersion)
			}
			wantProcs := []api.ImageProcess{{Pid: 1, Command: "pause", Threads: 1}, {Pid: 6, PPid: 1, Command: "pause", Threads: 1}}
			if !reflect.DeepEqual(info.Processes, wantProcs) {
				t.Errorf("processes %+v, want %+v", info.Processes, wantProcs)
			}
			m := info.Memory
			if m.Pages == 0 || m.MappedPages < m.Pages {
				t.Errorf("memory %+v: want pages > 0 and mapped >= pages", m)
			}
			if want := (api.ImageMemory{Pages: tt.pages, Bytes: tt.pages * 4096, MappedPages: tt.pages}); m != want {
				t.Errorf("memory %+v, want %+v", m, want)
			}
			if s := info.DumpStats; s == nil || s.PagesWritten != m.MappedPages || s.PagesWritten != m.Pages {
				t.Errorf("dump statistics %+v: want CRIU's pages written = %d, the pages counted", s, m.Pages)
			}
			checkMounts(t, info.Mounts)
			if c := info.Container; c == nil || c.ID != tt.id || c.Rootfs != "/tmp/mkimg/bundle/rootfs" {
				t.Errorf("record %+v, want container %s", c, tt.id)
			}
		})
	}
}

// checkMounts checks the container's mount table as rt set it up: 27
// mounts, the rootfs first (sorted), /data bound from the host (external)
// and the masked /proc/keys (a file bound from /dev/null).
func checkMounts(t *testing.T, mounts []api.ImageMount) {
	t.Helper()
	byPoint := map[string]api.ImageMount{}
	for _, m := range mounts {
		byPoint[m.Mountpoint] = m
	}
	if len(mounts) != 27 {
		t.Errorf("%d mounts, want 27: %+v", len(mounts), mounts)
	} else if m := mounts[0]; m.Mountpoint != "/" || m.Root != "/tmp/mkimg/bundle/rootfs" {
		t.Errorf("first mount %+v, want the rootfs", m)
	}
	want := map[string]api.ImageMount{
		"/data":                  {Mountpoint: "/data", Source: "/dev/vda", Root: "/tmp/mkimg/data", External: true, ExternalKey: "/data"},
		"/proc":                  {Mountpoint: "/proc", FSType: "proc", Source: "proc", Root: "/"},
		"/proc/keys":             {Mountpoint: "/proc/keys", FSType: "tmpfs", Source: "tmpfs", Root: "/null", External: true, ExternalKey: "/dev/null"},
		"/sys/fs/cgroup/unified": {Mountpoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", Source: "cgroup", Root: "/"},
	}
	for p, w := range want {
		if got := byPoint[p]; got != w {
			t.Errorf("mount %s: %+v, want %+v", p, got, w)
		}
	}
}
