package seccomp

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
)

// SendListener hands the listener l of s's filter, loaded by process pid,
// to the agent at s.ListenerPath, as runtime-spec says: one message whose
// data is the container process state (ociVersion, fds ["seccompFd"],
// pid, metadata from s.ListenerMetadata, state: the container's, its pid
// the init's) and whose SCM_RIGHTS is l. It keeps nothing: the caller
// closes l.
func SendListener(s *specs.LinuxSeccomp, pid int, state specs.State, l *os.File) error {
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{"seccompFd"}, Pid: pid, Metadata: s.ListenerMetadata, State: state,
	})
	if err != nil {
		return err
	}
	conn, err := console.DialUnix(s.ListenerPath)
	if err != nil {
		return fmt.Errorf("seccomp agent at listenerPath %s: %w", s.ListenerPath, err)
	}
	defer conn.Close()
	n, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(int(l.Fd())), nil)
	if err == nil && n != len(msg) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(msg))
	}
	if err != nil {
		return fmt.Errorf("seccomp agent at listenerPath %s: send the listener: %w", s.ListenerPath, err)
	}
	return nil
}
