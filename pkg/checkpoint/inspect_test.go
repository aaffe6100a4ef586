package checkpoint

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	criucore "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/mnt"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/stats"
	"github.com/checkpoint-restore/go-criu/v7/magic"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/store"
	"github.com/rtkit/rt/pkg/version"
)

// writeImage writes a CRIU image file as CRIU does: the common (or, for
// service images such as the inventory and stats, the service) magic, the
// file's own magic, then each entry as a little-endian 32-bit size and the
// protobuf bytes.
func writeImage(t testing.TB, dir, name, kind string, msgs ...proto.Message) {
	t.Helper()
	m := magic.LoadMagic()
	head := "IMG_COMMON"
	if kind == "INVENTORY" || kind == "STATS" {
		head = "IMG_SERVICE"
	}
	var buf []byte
	buf = binary.LittleEndian.AppendUint32(buf, uint32(m.ByName[head]))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(m.ByName[kind]))
	for _, msg := range msgs {
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

func core(comm string) *criucore.CoreEntry {
	return &criucore.CoreEntry{Mtype: criucore.CoreEntry_X86_64.Enum(), Tc: &criucore.TaskCoreEntry{
		TaskState: proto.Uint32(1), ExitCode: proto.Uint32(0), Personality: proto.Uint32(0), Flags: proto.Uint32(0),
		BlkSigset: proto.Uint64(0), Comm: proto.String(comm),
	}}
}

func pagemapEntries(pagesID uint32, nr ...uint32) []proto.Message {
	msgs := []proto.Message{&pagemap.PagemapHead{PagesId: proto.Uint32(pagesID)}}
	for i, n := range nr {
		msgs = append(msgs, &pagemap.PagemapEntry{Vaddr: proto.Uint64(uint64(i) << 20), NrPages: proto.Uint32(n)})
	}
	return msgs
}

func mntEntry(id uint32, mountpoint string, fstype mnt.Fstype, fsname, source, root, extKey string) *mnt.MntEntry {
	e := &mnt.MntEntry{
		Fstype: proto.Uint32(uint32(fstype)), MntId: proto.Uint32(id), RootDev: proto.Uint32(1), ParentMntId: proto.Uint32(1),
		Flags: proto.Uint32(0), Root: proto.String(root), Mountpoint: proto.String(mountpoint), Source: proto.String(source),
		Options: proto.String(""),
	}
	if fsname != "" {
		e.Fsname = proto.String(fsname)
	}
	if extKey != "" {
		e.ExtKey = proto.String(extKey)
	}
	return e
}

// fakeImage is a small dump: sh (pid 1, two threads) with a child sleep,
// 3 + 2 pages in two pages files, mapped 5 + 1 (one in a parent image),
// three mounts, one of them external.
func fakeImage(t testing.TB) string {
	dir := t.TempDir()
	writeImage(t, dir, "inventory.img", "INVENTORY", &inventory.InventoryEntry{ImgVersion: proto.Uint32(2)})
	writeImage(t, dir, "pstree.img", "PSTREE",
		&pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1), Threads: []uint32{1, 2}},
		&pstree.PstreeEntry{Pid: proto.Uint32(7), Ppid: proto.Uint32(1), Pgid: proto.Uint32(1), Sid: proto.Uint32(1), Threads: []uint32{7}})
	writeImage(t, dir, "core-1.img", "CORE", core("sh"))
	writeImage(t, dir, "core-7.img", "CORE", core("sleep"))
	writeImage(t, dir, "pagemap-1.img", "PAGEMAP", pagemapEntries(1, 3, 2)...)
	writeImage(t, dir, "pagemap-7.img", "PAGEMAP", pagemapEntries(2, 1)...)
	os.WriteFile(filepath.Join(dir, "pages-1.img"), make([]byte, 3*4096), 0o600)
	os.WriteFile(filepath.Join(dir, "pages-2.img"), make([]byte, 2*4096), 0o600)
	// CRIU writes children first; "./" is CRIU 3.x's relative form.
	writeImage(t, dir, "mountpoints-13.img", "MNTS",
		mntEntry(3, "/data", mnt.Fstype_UNSUPPORTED, "", "/dev/vda", "/host/data", "/data"),
		mntEntry(2, "./proc", mnt.Fstype_PROC, "", "proc", "/", ""),
		mntEntry(1, "/", mnt.Fstype_UNSUPPORTED, "ext4", "/dev/vda", "/b/rootfs", ""))
	return dir
}

var fakeInfo = api.ImageInfo{
	CRIUImageVersion: 2,
	Processes:        []api.ImageProcess{{Pid: 1, PPid: 0, Command: "sh", Threads: 2}, {Pid: 7, PPid: 1, Command: "sleep", Threads: 1}},
	Memory:           api.ImageMemory{Pages: 5, Bytes: 5 * 4096, MappedPages: 6},
	Mounts: []api.ImageMount{
		{Mountpoint: "/", FSType: "ext4", Source: "/dev/vda", Root: "/b/rootfs"},
		{Mountpoint: "/data", Source: "/dev/vda", Root: "/host/data", External: true, ExternalKey: "/data"},
		{Mountpoint: "/proc", FSType: "proc", Source: "proc", Root: "/"},
	},
}

func TestInspectImage(t *testing.T) {
	if os.Getpagesize() != 4096 {
		t.Skip("the fake image's pages are 4 KiB")
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	now := created.Add(time.Hour)
	rec := api.CheckpointRecord{ID: "c1", OCIVersion: "1.3.0", Bundle: "/b", Rootfs: "/b/rootfs", Created: now, ContainerCreated: created, RTVersion: "1.2.3"}
	dumpStats := &stats.StatsEntry{Dump: &stats.DumpStatsEntry{
		FreezingTime: proto.Uint32(1500), FrozenTime: proto.Uint32(9000), MemdumpTime: proto.Uint32(700), MemwriteTime: proto.Uint32(300),
		PagesScanned: proto.Uint64(40), PagesSkippedParent: proto.Uint64(1), PagesWritten: proto.Uint64(5), PagesLazy: proto.Uint64(0),
	}}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  func(info *api.ImageInfo)
	}{
		{"runc's image: no record, no stats", func(*testing.T, string) {}, func(*api.ImageInfo) {}},
		{"rt's image with stats", func(t *testing.T, dir string) {
			writeImage(t, dir, statsDumpFile, "STATS", dumpStats)
			old := version.Version
			version.Version = "1.2.3"
			defer func() { version.Version = old }()
			st := &store.State{ID: "c1", OCIVersion: "1.3.0", Bundle: "/b", Rootfs: "/b/rootfs", Created: created.Local()}
			if err := writeRecord(dir, st, now); err != nil {
				t.Fatal(err)
			}
		}, func(info *api.ImageInfo) {
			info.Container = &rec
			info.DumpStats = &api.DumpStats{FreezingTimeUs: 1500, FrozenTimeUs: 9000, MemdumpTimeUs: 700, MemwriteTimeUs: 300,
				PagesScanned: 40, PagesSkippedParent: 1, PagesWritten: 5}
		}},
		{"no memory, no mounts (lazy pages, host mount namespace)", func(t *testing.T, dir string) {
			for _, f := range []string{"pages-1.img", "pages-2.img", "mountpoints-13.img"} {
				os.Remove(filepath.Join(dir, f))
			}
		}, func(info *api.ImageInfo) {
			info.Memory = api.ImageMemory{MappedPages: 6}
			info.Mounts = []api.ImageMount{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeImage(t)
			tt.setup(t, dir)
			want := fakeInfo
			want.ImagePath = dir
			tt.want(&want)
			got, err := (&Runtime{}).Inspect(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

// TestInspectNotImage: whatever is at the path, an error that is one line,
// names the path and wraps api.ErrNotImage.
func TestInspectNotImage(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  string
	}{
		{"missing", func(_ *testing.T, dir string) string { return filepath.Join(dir, "nope") }, "no such directory"},
		{"a file", func(_ *testing.T, dir string) string {
			p := filepath.Join(dir, "f")
			os.WriteFile(p, nil, 0o600)
			return p
		}, "not a directory"},
		{"empty directory", func(_ *testing.T, dir string) string { return dir }, "no inventory.img"},
		{"logs only (a failed dump)", func(_ *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "dump.log"), []byte("Error (criu/cr-dump.c:1): x\n"), 0o600)
			return dir
		}, "no inventory.img"},
		{"inventory.img of another kind", func(t *testing.T, dir string) string {
			writeImage(t, dir, "inventory.img", "PSTREE", &pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1)})
			return dir
		}, "holds a PSTREE image"},
		{"inventory.img of garbage", func(_ *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "inventory.img"), []byte("hello, world\n"), 0o600)
			return dir
		}, "unknown magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			_, err := InspectImage(path)
			if !errors.Is(err, api.ErrNotImage) {
				t.Fatalf("error %v does not wrap api.ErrNotImage", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, path, tt.want)
			}
		})
	}
}

// TestInspectDamaged: an image with a file missing or of the wrong kind is
// an error naming the file, and not "not an image".
func TestInspectDamaged(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, dir string)
		want    string
	}{
		{"missing core", func(_ *testing.T, dir string) { os.Remove(filepath.Join(dir, "core-7.img")) }, "process 7: open "},
		{"missing pstree", func(_ *testing.T, dir string) { os.Remove(filepath.Join(dir, "pstree.img")) }, "pstree.img"},
		{"pagemap of another kind", func(t *testing.T, dir string) {
			writeImage(t, dir, "pagemap-7.img", "CORE", core("x"))
		}, "decode pagemap-7.img: it holds a CORE image"},
		{"truncated stats", func(_ *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, statsDumpFile), []byte{1, 2}, 0o600)
		}, "dump statistics"},
		{"bad record", func(_ *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, recordFile), []byte("{"), 0o600)
		}, recordFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeImage(t)
			tt.breakIt(t, dir)
			_, err := InspectImage(dir)
			if err == nil || errors.Is(err, api.ErrNotImage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v: want one containing %q, not ErrNotImage", err, tt.want)
			}
		})
	}
}

func TestContainerPath(t *testing.T) {
	for in, want := range map[string]string{"/": "/", ".": "/", "./proc": "/proc", "/a/b": "/a/b", "proc": "/proc"} {
		if got := containerPath(in); got != want {
			t.Errorf("containerPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeepDumpStats(t *testing.T) {
	img, work := t.TempDir(), t.TempDir()
	if err := keepDumpStats(img, work); err != nil {
		t.Fatalf("no stats in the work dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(img, statsDumpFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stats-dump made from nothing: %v", err)
	}
	os.WriteFile(filepath.Join(work, statsDumpFile), []byte("stats"), 0o644)
	if err := keepDumpStats(img, work); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(img, statsDumpFile)); string(data) != "stats" {
		t.Errorf("copied %q", data)
	}
}
