package checkpoint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// swrk is one `criu swrk` process and rt's end of its RPC socket.
//
// go-criu's own client starts criu with no stdio and no extra fds, and
// hides its pid; restore needs all three (the restored process's stdio is
// criu's, it must be born in the container's cgroups, and lazy-pages needs
// the status fd), so rt runs swrk itself and uses go-criu's messages only.
type swrk struct {
	cmd  *exec.Cmd
	sock *os.File
	// wd, when set (watch), kills criu if call makes no progress.
	wd *watchdog
}

// swrkFd is where criu finds its end of the socket (ExtraFiles[0]).
const swrkFd = 3

// startSwrk starts `criu swrk 3` with stdio (nil: /dev/null) and extra as
// fds 4…. The process waits for a request, so the caller may move it into
// cgroups before sending one.
//
// cmd.Start forks from the calling thread, so criu is born in that
// thread's mount namespace: restore calls this from inPrivateMountNS. No
// Pdeathsig, then: criu's parent is that thread, which exits right after.
func startSwrk(criu string, stdio [3]*os.File, extra []*os.File) (*swrk, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("criu socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "criu-client"), os.NewFile(uintptr(fds[1]), "criu-server")
	defer theirs.Close()
	cmd := exec.Command(criu, "swrk", fmt.Sprint(swrkFd))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = append([]*os.File{theirs}, extra...)
	if err := cmd.Start(); err != nil {
		ours.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("criu %q: %w (install criu 3.x or later, or set --criu / RT_CRIU)", criu, ErrNoCRIU)
		}
		return nil, fmt.Errorf("start criu swrk: %w", err)
	}
	return &swrk{cmd: cmd, sock: ours}, nil
}

// ErrNoCRIU means the criu binary could not be found or run.
var ErrNoCRIU = errors.New("criu not found")

// pid is criu's pid.
func (s *swrk) pid() int { return s.cmd.Process.Pid }

// notifyFunc handles one notification ("post-restore", "setup-namespaces",
// "orphan-pts-master", …) while criu waits; an error aborts the request.
// fds are the descriptors criu sent with it (SCM_RIGHTS: the new pty master
// of "orphan-pts-master"); call closes them once notify returns, so notify
// duplicates what it keeps.
type notifyFunc func(script string, n *rpc.CriuNotify, fds []*os.File) error

// notifyError is an error of rt's own notification handler (a hook, the
// console socket), not CRIU's: it is reported as it is, without the CRIU
// log's digest, which would only say that the client gave up.
type notifyError struct {
	script string
	err    error
}

func (e *notifyError) Error() string { return e.script + ": " + e.err.Error() }
func (e *notifyError) Unwrap() error { return e.err }

// maxNotifyFds bounds the descriptors one answer of criu may carry: it
// sends at most one (the orphan pty master); room for more lets the excess
// be received and closed instead of truncated by the kernel.
const maxNotifyFds = 8

// watch makes call kill criu when it makes no progress for timeout (0:
// never): no change of the log at logPath ("" for none), no message.
func (s *swrk) watch(timeout time.Duration, logPath string) {
	if timeout > 0 {
		s.wd = newWatchdog(timeout, logPath, s.kill)
	}
}

// kill SIGKILLs criu and shuts rt's end of the socket down, so that call's
// read returns even if a child of criu still holds criu's end. Errors are
// not reported: the only one Kill can give here is that criu has exited
// already, and shutdown's would change nothing.
func (s *swrk) kill() {
	s.cmd.Process.Kill()
	if rc, err := s.sock.SyscallConn(); err == nil {
		// Control, unlike Close, goes through while recv holds the fd.
		rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	}
}

// call sends req and serves the notifications until the final answer. An
// answer with success false is returned with an error holding CRIU's
// message; the caller turns it into a CRIUError with the log's digest. An
// error of notify is a *notifyError. If the watchdog (watch) killed criu,
// the error is a *stalledError, whatever the transport said after.
func (s *swrk) call(req *rpc.CriuReq, notify notifyFunc) (*rpc.CriuResp, error) {
	if s.wd == nil {
		return s.exchange(req, notify)
	}
	s.wd.start()
	resp, err := s.exchange(req, s.wd.pausing(notify))
	if s.wd.stop() && err != nil {
		return nil, &stalledError{after: s.wd.timeout}
	}
	return resp, err
}

// exchange is call's loop, with each message from criu reported to the
// watchdog, if any.
func (s *swrk) exchange(req *rpc.CriuReq, notify notifyFunc) (*rpc.CriuResp, error) {
	buf := make([]byte, 16<<10)
	oob := make([]byte, unix.CmsgSpace(maxNotifyFds*4))
	for {
		data, err := proto.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("encode criu request: %w", err)
		}
		if _, err := s.sock.Write(data); err != nil {
			return nil, fmt.Errorf("send criu request: %w", err)
		}
		n, fds, err := s.recv(buf, oob)
		if err != nil {
			return nil, err
		}
		if s.wd != nil {
			s.wd.message()
		}
		resp, err := s.serve(buf[:n], fds, notify)
		closeFiles(fds)
		if resp == nil || err != nil || resp.GetType() != rpc.CriuReqType_NOTIFY {
			return resp, err
		}
		typ := rpc.CriuReqType_NOTIFY
		req = &rpc.CriuReq{Type: &typ, NotifySuccess: proto.Bool(true)}
	}
}

// recv reads one answer of criu and the descriptors that came with it
// (close-on-exec, so that no child started meanwhile inherits a pty
// master).
func (s *swrk) recv(buf, oob []byte) (int, []*os.File, error) {
	rc, err := s.sock.SyscallConn()
	if err != nil {
		return 0, nil, fmt.Errorf("criu socket: %w", err)
	}
	var n, oobn, flags int
	var recvErr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, recvErr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN
	})
	if err == nil {
		err = recvErr
	}
	if err == nil && n == 0 && oobn == 0 {
		err = io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("criu exited without an answer (%v)", err)
	}
	fds, err := rightsOf(oob[:oobn])
	if err == nil && flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		err = errors.New("criu answer truncated")
	}
	if err != nil {
		closeFiles(fds)
		return 0, nil, fmt.Errorf("receive criu answer: %w", err)
	}
	return n, fds, nil
}

// serve decodes one answer and, if it is a notification, hands it to
// notify. fds stay the caller's to close.
func (s *swrk) serve(data []byte, fds []*os.File, notify notifyFunc) (*rpc.CriuResp, error) {
	resp := &rpc.CriuResp{}
	if err := proto.Unmarshal(data, resp); err != nil {
		return nil, fmt.Errorf("decode criu answer: %w", err)
	}
	if !resp.GetSuccess() {
		msg := resp.GetCrErrmsg()
		if msg == "" && resp.GetCrErrno() != 0 {
			msg = unix.Errno(resp.GetCrErrno()).Error()
		}
		if msg == "" {
			msg = "operation failed"
		}
		return resp, errors.New(msg)
	}
	if resp.GetType() != rpc.CriuReqType_NOTIFY || notify == nil {
		return resp, nil
	}
	nt := resp.GetNotify()
	if err := notify(nt.GetScript(), nt, fds); err != nil {
		return resp, &notifyError{script: nt.GetScript(), err: err}
	}
	return resp, nil
}

// rightsOf returns, as files, the descriptors of every SCM_RIGHTS message
// in oob; on error the ones already parsed are closed.
func rightsOf(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			closeFiles(files)
			return nil, fmt.Errorf("SCM_RIGHTS: %w", err)
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "criu-fd-"+strconv.Itoa(fd)))
		}
	}
	return files, nil
}

// closeFiles closes every file of fs.
func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// close closes the socket, which makes criu exit, and waits for it.
func (s *swrk) close() error {
	s.sock.Close()
	return s.cmd.Wait()
}

// features asks criu which of the optional features in want it has
// (memory tracking for pre-dump, lazy pages), killing it if it does not
// answer within timeout (0: waiting for ever): it writes no log, so only
// its answer is progress.
func features(criu string, want *rpc.CriuFeatures, timeout time.Duration) (*rpc.CriuFeatures, error) {
	s, err := startSwrk(criu, [3]*os.File{}, nil)
	if err != nil {
		return nil, err
	}
	defer s.close()
	s.watch(timeout, "")
	typ := rpc.CriuReqType_FEATURE_CHECK
	resp, err := s.call(&rpc.CriuReq{Type: &typ, Features: want}, nil)
	if errors.Is(err, ErrCRIUStalled) {
		return nil, newCRIUError("feature check", err, "")
	}
	if err != nil {
		return nil, fmt.Errorf("criu feature check: %w", err)
	}
	return resp.GetFeatures(), nil
}
