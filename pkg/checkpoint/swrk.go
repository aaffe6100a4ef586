package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

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
}

// swrkFd is where criu finds its end of the socket (ExtraFiles[0]).
const swrkFd = 3

// startSwrk starts `criu swrk 3` with stdio (nil: /dev/null) and extra as
// fds 4…. The process waits for a request, so the caller may move it into
// cgroups before sending one.
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
// …) while criu waits; an error aborts the request.
type notifyFunc func(script string, n *rpc.CriuNotify) error

// call sends req and serves the notifications until the final answer. An
// answer with success false is returned with an error holding CRIU's
// message; the caller turns it into a CRIUError with the log's digest.
func (s *swrk) call(req *rpc.CriuReq, notify notifyFunc) (*rpc.CriuResp, error) {
	buf := make([]byte, 16<<10)
	for {
		data, err := proto.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("encode criu request: %w", err)
		}
		if _, err := s.sock.Write(data); err != nil {
			return nil, fmt.Errorf("send criu request: %w", err)
		}
		n, err := s.sock.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("criu exited without an answer (%v)", err)
		}
		resp := &rpc.CriuResp{}
		if err := proto.Unmarshal(buf[:n], resp); err != nil {
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
		if resp.GetType() != rpc.CriuReqType_NOTIFY {
			return resp, nil
		}
		nt := resp.GetNotify()
		if notify != nil {
			if err := notify(nt.GetScript(), nt); err != nil {
				return resp, fmt.Errorf("%s: %w", nt.GetScript(), err)
			}
		}
		typ := rpc.CriuReqType_NOTIFY
		req = &rpc.CriuReq{Type: &typ, NotifySuccess: proto.Bool(true)}
	}
}

// close closes the socket, which makes criu exit, and waits for it.
func (s *swrk) close() error {
	s.sock.Close()
	return s.cmd.Wait()
}

// features asks criu which of the optional features in want it has
// (memory tracking for pre-dump, lazy pages).
func features(criu string, want *rpc.CriuFeatures) (*rpc.CriuFeatures, error) {
	s, err := startSwrk(criu, [3]*os.File{}, nil)
	if err != nil {
		return nil, err
	}
	defer s.close()
	typ := rpc.CriuReqType_FEATURE_CHECK
	resp, err := s.call(&rpc.CriuReq{Type: &typ, Features: want}, nil)
	if err != nil {
		return nil, fmt.Errorf("criu feature check: %w", err)
	}
	return resp.GetFeatures(), nil
}
