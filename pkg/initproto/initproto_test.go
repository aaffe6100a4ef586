package initproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// transports are the byte streams messages cross: the socketpair rt and
// rt-init use, and an in-memory pipe.
var transports = []struct {
	name string
	new  func(t *testing.T) (io.ReadCloser, io.WriteCloser)
}{
	{"socketpair", func(t *testing.T) (io.ReadCloser, io.WriteCloser) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, w := os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}},
	{"pipe", func(t *testing.T) (io.ReadCloser, io.WriteCloser) {
		r, w := io.Pipe()
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}},
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	msgs := []struct {
		typ  byte
		size int
	}{
		{MsgGo, 0},
		{MsgPid, 1},
		{MsgPid, 4},
		{MsgConfig, readAtOnce},
		{MsgConfig, readAtOnce + 1},
		{MsgConfig, 1 << 20},
		{MsgJoined, 0},
		{MsgNamespaces, 1000},
		{MsgReady, 0},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			r, w := tr.new(t)
			// Writes block until read on both transports: write from a
			// goroutine, all messages back to back on one stream.
			done := make(chan error, 1)
			go func() {
				for _, m := range msgs {
					if err := Write(w, m.typ, payload(m.size)); err != nil {
						done <- err
						return
					}
				}
				done <- w.Close()
			}()
			for _, m := range msgs {
				got, err := Read(r, m.typ)
				if err != nil {
					t.Fatalf("Read %q (%d bytes): %v", m.typ, m.size, err)
				}
				if !bytes.Equal(got, payload(m.size)) {
					t.Fatalf("Read %q: %d bytes, not the %d written", m.typ, len(got), m.size)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if _, err := Read(r, MsgReady); !errors.Is(err, ErrClosed) {
				t.Errorf("Read after the writer closed: %v, want ErrClosed", err)
			}
		})
	}
}

func TestWriteFrame(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, MsgConfig, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	want := []byte{MsgConfig}
	want = binary.NativeEndian.AppendUint32(want, 3)
	want = append(want, "abc"...)
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("frame % x, want % x", b.Bytes(), want)
	}
}

func frame(typ byte, n uint32, body string) []byte {
	b := binary.NativeEndian.AppendUint32([]byte{typ}, n)
	return append(b, body...)
}

// strictReader serves data and fails the test if read beyond it.
type strictReader struct {
	t    *testing.T
	data []byte
}

func (s *strictReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		s.t.Errorf("read beyond the header")
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  byte
		check func(t *testing.T, err error)
	}{
		{"remote error", frame(MsgError, 27, "mount proc on /proc: EPERM\n"), MsgReady, func(t *testing.T, err error) {
			var re *RemoteError
			if !errors.As(err, &re) || re.Msg != "mount proc on /proc: EPERM\n" || err.Error() != re.Msg {
				t.Errorf("got %v (%T), want *RemoteError with the text", err, err)
			}
		}},
		{"empty remote error", frame(MsgError, 0, ""), MsgPid, func(t *testing.T, err error) {
			var re *RemoteError
			if !errors.As(err, &re) || re.Msg != "" {
				t.Errorf("got %v (%T), want an empty *RemoteError", err, err)
			}
		}},
		{"wrong type", frame(MsgHooks, 2, "hi"), MsgReady, func(t *testing.T, err error) {
			var re *RemoteError
			if err == nil || errors.As(err, &re) || errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "protocol error") {
				t.Errorf("got %v, want a protocol error", err)
			}
		}},
		{"EOF before a header", nil, MsgReady, func(t *testing.T, err error) {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("got %v, want ErrClosed", err)
			}
		}},
		{"EOF inside the header", []byte{MsgReady, 0}, MsgReady, func(t *testing.T, err error) {
			if err == nil {
				t.Errorf("got nil, want an error")
			}
		}},
		{"EOF inside the payload", frame(MsgConfig, 10, "abc"), MsgConfig, func(t *testing.T, err error) {
			if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v, want an unexpected EOF", err)
			}
		}},
		{"EOF before a payload", frame(MsgConfig, 10, ""), MsgConfig, func(t *testing.T, err error) {
			if err == nil || errors.Is(err, ErrClosed) {
				t.Errorf("got %v, want an error other than ErrClosed (a header came)", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tt.input), tt.want)
			if got != nil {
				t.Errorf("payload %q with an error", got)
			}
			tt.check(t, err)
		})
	}
}

func TestReadOversized(t *testing.T) {
	for _, n := range []uint32{maxPayload + 1, 1 << 31, ^uint32(0)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Read(&strictReader{t: t, data: frame(MsgConfig, n, "")}, MsgConfig)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "protocol error") || !strings.Contains(err.Error(), strconv.FormatUint(uint64(n), 10)) {
			t.Errorf("header of %d bytes: %v, want a protocol error naming the size", n, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("header of %d bytes: %d bytes allocated", n, d)
		}
	}
	// maxPayload itself is allowed: the reader goes on to the payload,
	// allocating as it arrives, not the size the header claims.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(frame(MsgConfig, maxPayload, "x")), MsgConfig)
	runtime.ReadMemStats(&after)
	if err == nil || strings.Contains(err.Error(), "protocol error") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("header of maxPayload with a short body: %v, want an unexpected EOF", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("header of maxPayload with a short body: %d bytes allocated", d)
	}
}

func TestNamespacesEncode(t *testing.T) {
	ne := binary.NativeEndian
	tests := []struct {
		name string
		msg  Namespaces
	}{
		{"empty", Namespaces{}},
		{"clone flags only", Namespaces{CloneFlags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER}},
		{"time", Namespaces{NewTime: true, MonoSec: 100, MonoNsec: 5, BootSec: -7, BootNsec: 999999999}},
		{"cgroups", Namespaces{CgroupFD: 7, NumCgroup: 10}},
		{"joins", Namespaces{
			CloneFlags: unix.CLONE_NEWNS,
			Join: []Join{
				{Type: unix.CLONE_NEWNET, Path: "/run/netns/a"},
				{Type: unix.CLONE_NEWUSER, Path: "/proc/1/ns/user"},
				{Type: unix.CLONE_NEWIPC, Path: ""},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.msg.Encode()
			// struct rt_nsmsg: four uint32, four int64, two uint32, no padding.
			if len(b) < 56 {
				t.Fatalf("%d bytes, want at least the 56 of struct rt_nsmsg", len(b))
			}
			u32 := func(off int) uint32 { return ne.Uint32(b[off:]) }
			i64 := func(off int) int64 { return int64(ne.Uint64(b[off:])) }
			newTime := uint32(0)
			if tt.msg.NewTime {
				newTime = 1
			}
			fields := []struct {
				name      string
				got, want int64
			}{
				{"magic", int64(u32(0)), 0x5254534e},
				{"cloneflags", int64(u32(4)), int64(tt.msg.CloneFlags)},
				{"newtime", int64(u32(8)), int64(newTime)},
				{"njoin", int64(u32(12)), int64(len(tt.msg.Join))},
				{"mono_sec", i64(16), tt.msg.MonoSec},
				{"mono_nsec", i64(24), tt.msg.MonoNsec},
				{"boot_sec", i64(32), tt.msg.BootSec},
				{"boot_nsec", i64(40), tt.msg.BootNsec},
				{"cgroupfd", int64(u32(48)), int64(tt.msg.CgroupFD)},
				{"ncgroup", int64(u32(52)), int64(tt.msg.NumCgroup)},
			}
			for _, f := range fields {
				if f.got != f.want {
					t.Errorf("%s = %#x, want %#x", f.name, f.got, f.want)
				}
			}
			off := 56
			for i, j := range tt.msg.Join {
				if off+8 > len(b) {
					t.Fatalf("join %d: message ends at %d", i, len(b))
				}
				if typ, n := u32(off), u32(off+4); typ != j.Type || n != uint32(len(j.Path)) {
					t.Errorf("join %d: type %#x len %d, want %#x %d", i, typ, n, j.Type, len(j.Path))
				}
				off += 8
				if off+len(j.Path) > len(b) || string(b[off:off+len(j.Path)]) != j.Path {
					t.Fatalf("join %d: path not at %d", i, off)
				}
				off += len(j.Path)
			}
			if off != len(b) {
				t.Errorf("%d bytes, want %d (no padding, no terminator)", len(b), off)
			}
		})
	}
	// Byte by byte, one complete message.
	m := Namespaces{CloneFlags: 0x01020304, NewTime: true, MonoSec: 1, MonoNsec: 2, BootSec: 3, BootNsec: -1,
		CgroupFD: 9, NumCgroup: 2, Join: []Join{{Type: 0x40000000, Path: "/p"}}}
	want := ne.AppendUint32(nil, 0x5254534e)
	want = ne.AppendUint32(want, 0x01020304)
	want = ne.AppendUint32(want, 1)
	want = ne.AppendUint32(want, 1)
	for _, v := range []uint64{1, 2, 3, ^uint64(0)} {
		want = ne.AppendUint64(want, v)
	}
	want = ne.AppendUint32(want, 9)
	want = ne.AppendUint32(want, 2)
	want = ne.AppendUint32(want, 0x40000000)
	want = ne.AppendUint32(want, 2)
	want = append(want, '/', 'p')
	if got := m.Encode(); !bytes.Equal(got, want) {
		t.Errorf("Encode:\n got % x\nwant % x", got, want)
	}
}

// TestNamespacesMatchC compiles struct rt_nsmsg from pkg/nsexec/nsexec.c and
// checks its size, field offsets and magic against Encode's layout.
func TestNamespacesMatchC(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "nsexec", "nsexec.c"))
	if err != nil {
		t.Skipf("nsexec.c: %v", err)
	}
	magic := regexp.MustCompile(`#define RT_NS_MAGIC (0x[0-9a-fA-F]+)u?`).FindSubmatch(src)
	if magic == nil {
		t.Fatal("no RT_NS_MAGIC in nsexec.c")
	}
	if v, err := strconv.ParseUint(string(magic[1]), 0, 32); err != nil || v != nsMagic {
		t.Errorf("RT_NS_MAGIC %s, Go nsMagic %#x", magic[1], nsMagic)
	}
	def := regexp.MustCompile(`(?s)struct rt_nsmsg \{.*?\n\};`).Find(src)
	if def == nil {
		t.Fatal("no struct rt_nsmsg in nsexec.c")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to check the struct layout")
	}
	dir := t.TempDir()
	prog := "#include <stdint.h>\n#include <stddef.h>\n#include <stdio.h>\n" + string(def) + `
int main(void) {
	printf("%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n", sizeof(struct rt_nsmsg),
		offsetof(struct rt_nsmsg, magic), offsetof(struct rt_nsmsg, cloneflags),
		offsetof(struct rt_nsmsg, newtime), offsetof(struct rt_nsmsg, njoin),
		offsetof(struct rt_nsmsg, mono_sec), offsetof(struct rt_nsmsg, mono_nsec),
		offsetof(struct rt_nsmsg, boot_sec), offsetof(struct rt_nsmsg, boot_nsec),
		offsetof(struct rt_nsmsg, cgroupfd), offsetof(struct rt_nsmsg, ncgroup));
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "l.c"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-o", filepath.Join(dir, "l"), filepath.Join(dir, "l.c")).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "l")).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Encode: 4 x uint32, 4 x int64, 2 x uint32.
	if got, want := strings.TrimSpace(string(out)), "56 0 4 8 12 16 24 32 40 48 52"; got != want {
		t.Errorf("struct rt_nsmsg sizeof and offsets %q, Encode lays out %q", got, want)
	}
	if n := len((&Namespaces{}).Encode()); n != 56 {
		t.Errorf("Encode with no joins: %d bytes, want 56", n)
	}
}

func TestGoPayload(t *testing.T) {
	tests := []struct {
		setid bool
		want  uint32
	}{{false, 0}, {true, 1}}
	for _, tt := range tests {
		b := GoPayload(tt.setid)
		// The C stage reads a uint32 with memcpy(&setid, buf, 4).
		if len(b) != 4 || binary.NativeEndian.Uint32(b) != tt.want {
			t.Errorf("GoPayload(%v) = % x, want native uint32 %d", tt.setid, b, tt.want)
		}
	}
}

func TestRuntimeHooks(t *testing.T) {
	hook := []specs.Hook{{Path: "/bin/true"}}
	tests := []struct {
		name string
		spec *specs.Spec
		want bool
	}{
		{"no spec", nil, false},
		{"no hooks", &specs.Spec{}, false},
		{"only in-container and later hooks", &specs.Spec{Hooks: &specs.Hooks{
			CreateContainer: hook, StartContainer: hook, Poststart: hook, Poststop: hook}}, false},
		{"prestart", &specs.Spec{Hooks: &specs.Hooks{Prestart: hook}}, true},
		{"createRuntime", &specs.Spec{Hooks: &specs.Hooks{CreateRuntime: hook}}, true},
	}
	for _, tt := range tests {
		if got := RuntimeHooks(tt.spec); got != tt.want {
			t.Errorf("%s: RuntimeHooks = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestTrees: the idmapped mounts cross the socket between MsgConfig and the
// next frame, each arriving as the file sent under its index, and the frame
// after them is read whole (no descriptor message swallows it). Regular
// files stand in for the mounts: what crosses is a descriptor either way.
func TestTrees(t *testing.T) {
	for _, tt := range []struct {
		name    string
		indices []int
	}{
		{"none", nil},
		{"one", []int{7}},
		{"several", []int{12, 3, 9}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			rt, init := os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
			defer rt.Close()
			defer init.Close()
			sent := map[int]*os.File{}
			for _, i := range tt.indices {
				f, err := os.CreateTemp(t.TempDir(), "tree")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				sent[i] = f
			}
			if err := Write(rt, MsgConfig, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := WriteTrees(rt, sent); err != nil {
				t.Fatal(err)
			}
			if err := Write(rt, MsgJoined, []byte("after")); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(init, MsgConfig); err != nil {
				t.Fatal(err)
			}
			got, err := ReadTrees(init, len(sent))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(sent) {
				t.Errorf("received %d, sent %d", len(got), len(sent))
			}
			for i, f := range sent {
				var a, b unix.Stat_t
				if g, ok := got[i]; !ok || unix.Fstat(int(f.Fd()), &a) != nil || unix.Fstat(int(g.Fd()), &b) != nil || a.Ino != b.Ino {
					t.Errorf("mounts[%d]: not received as sent", i)
				} else {
					g.Close()
				}
			}
			if p, err := Read(init, MsgJoined); err != nil || string(p) != "after" {
				t.Errorf("the frame after the trees: %q, %v", p, err)
			}
		})
	}
}

// TestReadTreesShort: a sender that closes before sending all is an
// error, not a wait or a short map.
func TestReadTreesShort(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	rt, init := os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
	defer init.Close()
	f, err := os.CreateTemp(t.TempDir(), "tree")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteTrees(rt, map[int]*os.File{1: f}); err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if got, err := ReadTrees(init, 2); err == nil || !strings.Contains(err.Error(), "receive the idmapped mounts") {
		t.Errorf("ReadTrees of 2 with 1 sent: %v, %v; want an error", got, err)
	}
}
