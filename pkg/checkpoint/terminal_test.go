package checkpoint

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

func TestCheckTerminal(t *testing.T) {
	tests := []struct {
		terminal bool
		socket   string
		detach   bool
		want     string // "" for no error
	}{
		{false, "", false, ""},
		{false, "", true, ""},
		{true, "/s", true, ""},
		{true, "/s", false, ""},
		{true, "", false, ""}, // relayed
		{true, "", true, "--console-socket is required"},
		{false, "/s", true, "process.terminal is false"},
		{false, "/s", false, "process.terminal is false"},
	}
	for _, tt := range tests {
		err := checkTerminal(tt.terminal, tt.socket, tt.detach)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkTerminal(%v, %q, %v) = %v, want %q", tt.terminal, tt.socket, tt.detach, err, tt.want)
		}
	}
}

// pipeFiles returns n read ends of new pipes (their write ends closed at
// cleanup).
func pipeFiles(t *testing.T, n int) []*os.File {
	t.Helper()
	var out []*os.File
	for i := 0; i < n; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		out = append(out, r)
	}
	return out
}

func TestPtyReceiver(t *testing.T) {
	t.Run("one master", func(t *testing.T) {
		p := &ptyReceiver{want: true}
		fds := pipeFiles(t, 1)
		if err := p.notify(fds); err != nil {
			t.Fatal(err)
		}
		// A copy: the notification's own fd is call's to close.
		fds[0].Close()
		m, err := p.take()
		if err != nil || m == nil {
			t.Fatalf("take: %v, %v", m, err)
		}
		defer m.Close()
		if m.Name() != "/dev/ptmx" {
			t.Errorf("master named %q, want /dev/ptmx (the console socket payload)", m.Name())
		}
		if _, err := unix.FcntlInt(m.Fd(), unix.F_GETFD, 0); err != nil {
			t.Errorf("kept master is not open: %v", err)
		}
		if m2, err := p.take(); m2 != nil || err == nil {
			t.Errorf("second take: %v, %v; want nothing and an error", m2, err)
		}
	})
	failures := []struct {
		name string
		want bool
		fds  [][]*os.File // successive notifications
		msg  string
	}{
		{"no terminal wanted", false, [][]*os.File{pipeFiles(t, 1)}, "process.terminal is false"},
		{"no descriptor", true, [][]*os.File{nil}, "0 descriptors"},
		{"two descriptors", true, [][]*os.File{pipeFiles(t, 2)}, "2 descriptors"},
		{"second master", true, [][]*os.File{pipeFiles(t, 1), pipeFiles(t, 1)}, "second pty master"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			p := &ptyReceiver{want: tt.want}
			defer p.close()
			var err error
			for _, fds := range tt.fds {
				if err = p.notify(fds); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("notify: %v, want %q", err, tt.msg)
			}
		})
	}
	t.Run("none sent", func(t *testing.T) {
		if _, err := (&ptyReceiver{want: true}).take(); err == nil || !strings.Contains(err.Error(), "no pty master") {
			t.Errorf("take without a master: %v", err)
		}
		if m, err := (&ptyReceiver{}).take(); m != nil || err != nil {
			t.Errorf("take without a terminal: %v, %v", m, err)
		}
	})
}

// fakeCRIU plays criu's end of the swrk socket: it reads the request, sends each answer (with
// the fd of files[i], if any, as SCM_RIGHTS) and reads the client's reply
// after every notification.
func fakeCRIU(t *testing.T, answers []*rpc.CriuResp, files []*os.File) (*swrk, <-chan error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "criu")
	t.Cleanup(func() { ours.Close() })
	done := make(chan error, 1)
	go func() {
		defer theirs.Close()
		buf := make([]byte, 4096)
		if _, err := theirs.Read(buf); err != nil { // the request
			done <- err
			return
		}
		for i, a := range answers {
			data, _ := proto.Marshal(a)
			var oob []byte
			if i < len(files) && files[i] != nil {
				oob = unix.UnixRights(int(files[i].Fd()))
			}
			if err := unix.Sendmsg(int(theirs.Fd()), data, oob, nil, 0); err != nil {
				done <- err
				return
			}
			if a.GetType() != rpc.CriuReqType_NOTIFY {
				break
			}
			n, err := theirs.Read(buf)
			if err != nil {
				done <- nil // the client gave up
				return
			}
			req := &rpc.CriuReq{}
			if err := proto.Unmarshal(buf[:n], req); err != nil || !req.GetNotifySuccess() {
				done <- errors.New("the client did not answer the notification with success")
				return
			}
		}
		done <- nil
	}()
	return &swrk{sock: ours}, done
}

func notifyResp(script string) *rpc.CriuResp {
	typ := rpc.CriuReqType_NOTIFY
	return &rpc.CriuResp{Type: &typ, Success: proto.Bool(true), Notify: &rpc.CriuNotify{Script: proto.String(script), Pid: proto.Int32(7)}}
}

func TestCallPassesFds(t *testing.T) {
	typ := rpc.CriuReqType_RESTORE
	final := &rpc.CriuResp{Type: &typ, Success: proto.Bool(true)}
	sent := pipeFiles(t, 1)
	sw, done := fakeCRIU(t, []*rpc.CriuResp{notifyResp(orphanPtsMaster), notifyResp("post-restore"), final}, sent)
	p := &ptyReceiver{want: true}
	defer p.close()
	var got []int
	var scripts []string
	rtyp := rpc.CriuReqType_RESTORE
	resp, err := sw.call(&rpc.CriuReq{Type: &rtyp}, func(script string, n *rpc.CriuNotify, fds []*os.File) error {
		scripts = append(scripts, script)
		for _, f := range fds {
			got = append(got, int(f.Fd()))
		}
		if script == orphanPtsMaster {
			return p.notify(fds)
		}
		return nil
	})
	if err != nil || resp.GetType() != rpc.CriuReqType_RESTORE {
		t.Fatalf("call: %v, %v", resp, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Join(scripts, ",") != orphanPtsMaster+",post-restore" || len(got) != 1 {
		t.Fatalf("notifications %v with fds %v, want the master with one fd and post-restore with none", scripts, got)
	}
	// call closed the received fd; the receiver's copy is the same pipe.
	if _, err := unix.FcntlInt(uintptr(got[0]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("received fd %d still open after call: %v", got[0], err)
	}
	m, err := p.take()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var a, b unix.Stat_t
	unix.Fstat(int(m.Fd()), &a)
	unix.Fstat(int(sent[0].Fd()), &b)
	if a.Ino != b.Ino {
		t.Errorf("kept master is inode %d, sent %d", a.Ino, b.Ino)
	}
}

func TestCallNotifyError(t *testing.T) {
	sent := pipeFiles(t, 1)
	sw, done := fakeCRIU(t, []*rpc.CriuResp{notifyResp(orphanPtsMaster)}, sent)
	p := &ptyReceiver{want: false}
	var got int
	rtyp := rpc.CriuReqType_RESTORE
	_, err := sw.call(&rpc.CriuReq{Type: &rtyp}, func(script string, n *rpc.CriuNotify, fds []*os.File) error {
		got = int(fds[0].Fd())
		return p.notify(fds)
	})
	var ne *notifyError
	if !errors.As(err, &ne) || !strings.HasPrefix(err.Error(), orphanPtsMaster+": ") {
		t.Fatalf("call: %v, want a notifyError of %s", err, orphanPtsMaster)
	}
	sw.sock.Close() // criu sees its client go
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(got), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("received fd %d still open after a failed notification: %v", got, err)
	}
}
