package checkpoint

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// orphanPtsMaster is the notification with which CRIU hands over the master
// of a terminal whose master was not part of the dump (the container's own
// pty: its master was the console socket client's). Checkpoint asks for it
// with orphan_pts_master, as runc does.
const orphanPtsMaster = "orphan-pts-master"

// checkTerminal refuses, before anything exists, a restore whose terminal
// nobody could receive: a detached restore of a terminal container without
// a console socket (in the foreground rt relays the terminal itself, as
// `rt run` does), or a console socket for a container without a terminal.
// The messages are create's.
func checkTerminal(terminal bool, consoleSocket string, detach bool) error {
	if terminal && consoleSocket == "" && detach {
		return errors.New("process.terminal is true: --console-socket is required (or restore in the foreground)")
	}
	if !terminal && consoleSocket != "" {
		return errors.New("--console-socket given but process.terminal is false")
	}
	return nil
}

// ptyReceiver keeps the pty master CRIU sends during a restore until the
// restore succeeds: only then is it handed to the console socket (or
// relayed), so that a failed restore gives the client nothing that looks
// like a terminal.
type ptyReceiver struct {
	// want says the bundle asks for a terminal.
	want   bool
	master *os.File
}

// notify keeps a copy of the master of an "orphan-pts-master"
// notification's fds (call closes those). It fails if the bundle has no
// terminal (nothing would receive the master and the process would be left
// on a terminal that is hung up), if the notification carries no
// descriptor, or if a second one comes (the container had one terminal).
func (p *ptyReceiver) notify(fds []*os.File) error {
	switch {
	case !p.want:
		return errors.New("the checkpoint holds a terminal but the bundle's process.terminal is false")
	case len(fds) != 1:
		return fmt.Errorf("criu sent %d descriptors with the pty master, want 1", len(fds))
	case p.master != nil:
		return errors.New("criu sent a second pty master: the checkpoint has more than one terminal without its master, rt hands over only one")
	}
	m, err := dupFile(fds[0], "/dev/ptmx")
	if err != nil {
		return fmt.Errorf("pty master: %w", err)
	}
	p.master = m
	return nil
}

// take returns the master, which the caller must close, and forgets it; an
// error if the bundle wants a terminal and CRIU sent none (the checkpoint
// was of a container without one).
func (p *ptyReceiver) take() (*os.File, error) {
	m := p.master
	p.master = nil
	if p.want && m == nil {
		return nil, errors.New("the bundle's process.terminal is true but criu sent no pty master: the checkpoint has no terminal of its own")
	}
	return m, nil
}

// close closes a master not taken (a failed restore).
func (p *ptyReceiver) close() {
	if p.master != nil {
		p.master.Close()
		p.master = nil
	}
}

// dupFile duplicates f's descriptor (close-on-exec) under name, which for
// a pty master is what SendToSocket sends as the payload: "/dev/ptmx", as
// for a master from OpenPty. f's blocking mode is left alone (Fd would
// make it blocking): it belongs to the open file, which the console
// socket's client shares.
func dupFile(f *os.File, name string) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(old uintptr) { fd, dupErr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("dup: %w", dupErr)
	}
	return os.NewFile(uintptr(fd), name), nil
}
