package checkpoint

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
)

// tarEntry is one entry of a test tar.
type tarEntry struct {
	name, body, link string
	typ              byte
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestArchiveRoundTrip writes an archive of a fake image in each
// compression, then unpacks and inspects it: the layout is podman's,
// config.dump has what checkpointctl reads, and the images come back whole.
// Long for its subtests, which share the set-up above them and read as one story.
func TestArchiveRoundTrip(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	images := fakeImage(t)
	writeImage(t, images, statsDumpFile, "STATS", &stats.StatsEntry{Dump: &stats.DumpStatsEntry{
		FreezingTime: proto.Uint32(1), FrozenTime: proto.Uint32(2), MemdumpTime: proto.Uint32(3), MemwriteTime: proto.Uint32(4),
		PagesScanned: proto.Uint64(5), PagesSkippedParent: proto.Uint64(0), PagesWritten: proto.Uint64(6), PagesLazy: proto.Uint64(0),
	}})
	statsData, _ := os.ReadFile(filepath.Join(images, statsDumpFile))
	diff := filepath.Join(t.TempDir(), "diff.tar")
	os.WriteFile(diff, makeTar(t, tarEntry{name: "tmp/c", body: "42\n"}), 0o600)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	content := archiveContent{
		Config: containerConfig{ID: "c1", Name: "c1", OCIRuntime: "rt", CreatedTime: created},
		Spec:   &specs.Spec{Version: "1.2.0", Hostname: "h"}, ImageDir: images, RootfsDiff: diff,
	}
	for _, suffix := range []string{".tar", ".tar.gz", ".tar.zst"} {
		t.Run(suffix, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ckpt"+suffix)
			if err := writeArchive(out, content); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("archive: %v, %v: want a 0600 file", fi, err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp-*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			data, _ := os.ReadFile(out)
			switch suffix {
			case ".tar.gz":
				if !bytes.HasPrefix(data, gzipMagic) {
					t.Errorf("not gzip")
				}
			case ".tar.zst":
				if !bytes.HasPrefix(data, zstdMagic) {
					t.Errorf("not zstd")
				}
			}
			dir, err := unpackArchive(out)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
				t.Errorf("unpack dir mode %v, want 0700", fi.Mode())
			}
			var cfg map[string]any
			raw, _ := os.ReadFile(filepath.Join(dir, configDumpFile))
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg["id"] != "c1" || cfg["name"] != "c1" || cfg["runtime"] != "rt" || cfg["createdTime"] != "2026-01-02T03:04:05Z" {
				t.Errorf("config.dump = %s", raw)
			}
			var s specs.Spec
			raw, _ = os.ReadFile(filepath.Join(dir, specDumpFile))
			if err := json.Unmarshal(raw, &s); err != nil || s.Hostname != "h" {
				t.Errorf("spec.dump = %s (%v)", raw, err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, statsDumpFile)); !bytes.Equal(got, statsData) {
				t.Errorf("top-level stats-dump = %q", got)
			}
			want, _ := os.ReadDir(images)
			for _, e := range want {
				a, _ := os.ReadFile(filepath.Join(images, e.Name()))
				b, err := os.ReadFile(filepath.Join(dir, archiveImageDir, e.Name()))
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("checkpoint/%s differs after the round trip (%v)", e.Name(), err)
				}
			}
			if got, _ := os.ReadFile(filepath.Join(dir, rootfsDiffFile)); !bytes.Contains(got, []byte("42\n")) {
				t.Errorf("rootfs-diff.tar not carried")
			}
			info, err := InspectArchive(out)
			if err != nil {
				t.Fatal(err)
			}
			if info.ImagePath != out || len(info.Processes) != 2 || info.Processes[1].Command != "sleep" || info.DumpStats == nil || info.DumpStats.PagesWritten != 6 {
				t.Errorf("InspectArchive = %+v", info)
			}
		})
	}
	if err := writeArchive(filepath.Join(t.TempDir(), "x.zip"), content); err == nil {
		t.Errorf("a .zip name was accepted")
	}
	if left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "rt-*")); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

func TestArchiveName(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"config.dump", "config.dump", ""},
		{"./checkpoint/core-1.img", "checkpoint/core-1.img", ""},
		{"checkpoint/", "checkpoint", ""},
		{"a//b/./c", "a/b/c", ""},
		{"./", ".", ""},
		{"", "", "empty"},
		{"/etc/passwd", "", "absolute"},
		{"../x", "", ".."},
		{"checkpoint/../../x", "", ".."},
		{"a/b/..", "", ".."},
		{"a/../b", "", ".."},
		{"..", "", ".."},
		{"a\x00b", "", "NUL"},
		{"..a/b..", "..a/b..", ""},
	} {
		got, err := archiveName(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("archiveName(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("archiveName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestReadArchiveRefuses: each bad entry refuses the archive, with an
// error naming it, and unpackArchive leaves nothing behind.
func TestReadArchiveRefuses(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	good := tarEntry{name: "checkpoint/inventory.img", body: "x"}
	for _, tt := range []struct {
		name  string
		entry tarEntry
	}{
		{"dotdot", tarEntry{name: "../evil", body: "x"}},
		{"dotdot-inside", tarEntry{name: "checkpoint/../../evil", body: "x"}},
		{"absolute", tarEntry{name: "/tmp/evil", body: "x"}},
		{"symlink", tarEntry{name: "checkpoint/link", typ: tar.TypeSymlink, link: "/etc"}},
		{"relative-symlink", tarEntry{name: "spec.dump", typ: tar.TypeSymlink, link: "../../etc/passwd"}},
		{"hardlink", tarEntry{name: "checkpoint/h", typ: tar.TypeLink, link: "/etc/shadow"}},
		{"device", tarEntry{name: "checkpoint/dev", typ: tar.TypeChar}},
		{"fifo", tarEntry{name: "fifo", typ: tar.TypeFifo}},
		{"duplicate", good},
		{"unknown-but-bad", tarEntry{name: "volumes/../../x", body: "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.tar")
			os.WriteFile(p, makeTar(t, tarEntry{name: "checkpoint/", typ: tar.TypeDir}, good, tt.entry), 0o600)
			_, err := unpackArchive(p)
			if !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line wrapping ErrBadArchive naming %s", err, p)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "rt-*")); len(left) != 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
	t.Run("not-tar", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.tar.zst")
		os.WriteFile(p, append(append([]byte{}, zstdMagic...), "garbage"...), 0o600)
		if _, err := unpackArchive(p); err == nil {
			t.Error("garbage accepted")
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "rt-*")); len(left) != 0 {
			t.Errorf("left in TMPDIR: %v", left)
		}
	})
	t.Run("unknown-skipped", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "ok.tar")
		os.WriteFile(p, makeTar(t, good, tarEntry{name: "network.status", body: "{}"}, tarEntry{name: "checkpoint/sub/x", body: "x"}), 0o600)
		dir, err := unpackArchive(p)
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		for _, n := range []string{"network.status", "checkpoint/sub"} {
			if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s unpacked (%v)", n, err)
			}
		}
	})
}

// TestRootfsDiff records the files changed after a time, applies them onto
// another copy of the rootfs, and checks that an absolute symlink in the
// destination does not lead the application out of it.
// Long for its subtests, which share the set-up above them and read as one story.
func TestRootfsDiff(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "etc/old"), []byte("old"), 0o644)
	os.MkdirAll(filepath.Join(src, "tmp"), 0o1777)
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(filepath.Join(src, "tmp/c"), []byte("17\n"), 0o640)
	os.MkdirAll(filepath.Join(src, "var/new/dir"), 0o750)
	os.WriteFile(filepath.Join(src, "var/new/dir/f"), []byte("f"), 0o600)
	os.Symlink("/etc/old", filepath.Join(src, "var/link"))
	os.WriteFile(filepath.Join(src, "etc/escape"), []byte("in"), 0o644)

	var buf bytes.Buffer
	n, err := writeRootfsDiff(&buf, src, since)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names[hdr.Name] = true
	}
	if names["etc/old"] || !names["tmp/c"] || !names["var/new/dir/f"] || !names["var/link"] || !names["var/new/"] || n != len(names) {
		t.Errorf("diff entries %v (n %d): want the new ones only", names, n)
	}

	dst := t.TempDir()
	outside := t.TempDir()
	// The destination's /etc is an absolute symlink to a host
	// directory; the diff's etc/ entry replaces the link itself.
	os.Symlink(outside, filepath.Join(dst, "etc"))
	if err := checkRootfsDiff(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := applyRootfsDiff(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("the diff wrote outside the rootfs: %v", left)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "etc/escape")); string(got) != "in" {
		t.Errorf("etc/escape not applied inside the rootfs: %q", got)
	}
	// A path through an absolute symlink of the destination is resolved
	// in the rootfs, never to the host's directory it names: there it
	// leads to a directory that does not exist, and the entry fails.
	dst2 := t.TempDir()
	os.Symlink(outside, filepath.Join(dst2, "etc"))
	if err := applyRootfsDiff(bytes.NewReader(makeTar(t, tarEntry{name: "etc/escape", body: "in"})), dst2); err == nil {
		t.Errorf("applied through a dangling in-root symlink")
	}
	// Once it exists in the rootfs, that is where the entry goes.
	os.MkdirAll(filepath.Join(dst2, outside), 0o755)
	if err := applyRootfsDiff(bytes.NewReader(makeTar(t, tarEntry{name: "etc/escape", body: "in"})), dst2); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("the diff wrote outside the rootfs: %v", left)
	}
	if got, _ := os.ReadFile(filepath.Join(dst2, outside, "escape")); string(got) != "in" {
		t.Errorf("etc/escape not applied inside the rootfs: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dst, "tmp/c")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("tmp/c: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "var/link")); l != "/etc/old" {
		t.Errorf("var/link -> %q", l)
	}
	if fi, err := os.Stat(filepath.Join(dst, "var/new/dir")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("var/new/dir: %v %v", fi, err)
	}

	// A file replacing an existing symlink replaces it, not its target.
	target := filepath.Join(outside, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Remove(filepath.Join(dst, "tmp/c"))
	os.Symlink(target, filepath.Join(dst, "tmp/c"))
	if err := applyRootfsDiff(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != "keep" {
		t.Errorf("the symlink's target was written: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "tmp/c")); string(got) != "17\n" {
		t.Errorf("tmp/c = %q", got)
	}

	for _, bad := range []tarEntry{
		{name: "../x", body: "x"}, {name: "/abs", body: "x"},
		{name: "d", typ: tar.TypeLink, link: "etc/old"}, {name: "n", typ: tar.TypeBlock},
	} {
		if err := checkRootfsDiff(bytes.NewReader(makeTar(t, bad))); !errors.Is(err, ErrBadArchive) {
			t.Errorf("checkRootfsDiff(%+v) = %v, want ErrBadArchive", bad, err)
		}
	}
}

// FuzzArchiveReader feeds arbitrary bytes to the archive reader (and the
// rootfs diff checker and applier): whatever the input, nothing is
// written but regular files and directories, all inside the destination,
// nothing panics, and a refusal is one line.
func FuzzArchiveReader(f *testing.F) {
	f.Add(makeTar(f, tarEntry{name: "checkpoint/", typ: tar.TypeDir}, tarEntry{name: "checkpoint/inventory.img", body: "x"},
		tarEntry{name: "config.dump", body: "{}"}, tarEntry{name: "rootfs-diff.tar", body: ""}))
	f.Add(makeTar(f, tarEntry{name: "../evil", body: "x"}))
	f.Add(makeTar(f, tarEntry{name: "checkpoint/l", typ: tar.TypeSymlink, link: "/"}, tarEntry{name: "checkpoint/l/x", body: "x"}))
	f.Add(makeTar(f, tarEntry{name: "tmp/", typ: tar.TypeDir}, tarEntry{name: "tmp/l", typ: tar.TypeSymlink, link: "../../.."}, tarEntry{name: "tmp/l/x", body: "x"}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dest := filepath.Join(base, "dest")
		os.Mkdir(dest, 0o700)
		if r, err := decompress(bytes.NewReader(data)); err == nil {
			if err := readArchive(r, dest); err != nil {
				checkOneLine(t, "readArchive", err)
			}
			r.Close()
		}
		rootfs := filepath.Join(base, "rootfs")
		os.Mkdir(rootfs, 0o755)
		if err := checkRootfsDiff(bytes.NewReader(data)); err != nil {
			checkOneLine(t, "checkRootfsDiff", err)
		} else if err := applyRootfsDiff(bytes.NewReader(data), rootfs); err != nil {
			checkOneLine(t, "applyRootfsDiff", err)
		}
		entries, _ := os.ReadDir(base)
		if len(entries) != 2 {
			t.Fatalf("written beside the destinations: %v", entries)
		}
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() && !d.IsDir() {
				t.Errorf("unpacked %s of type %v", p, d.Type())
			}
			return nil
		})
	})
}
