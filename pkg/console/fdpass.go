package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxNameLen bounds the name sent with a descriptor by SendFd: RecvFd reads
// at most this many bytes of payload, so a longer name could not arrive
// whole. It is PATH_MAX, which any terminal or file name fits in.
const MaxNameLen = 4096

// SendFd sends f's descriptor over conn, a connected AF_UNIX socket, as one
// message: name as the data and the descriptor as SCM_RIGHTS ancillary data.
// conn is anything with a raw descriptor, such as an *os.File holding one
// end of a socketpair or a *net.UnixConn.
//
// name must not be empty: on a stream socket the kernel sends no ancillary
// data with a message that has no data bytes, so the descriptor would be
// silently lost. It must be shorter than MaxNameLen.
//
// The receiver gets its own reference to the open file; f stays open here
// and the caller still owns it. To hand a pty master away for good, close f
// after SendFd returns: until then this process keeps the terminal alive.
//
// On a stream socket message boundaries are not kept: call SendFd only where
// the receiver expects the descriptor next, as RecvFd reads whatever data
// precedes it in the stream as part of the name.
func SendFd(conn syscall.Conn, name string, f *os.File) error {
	if name == "" {
		return errors.New("send fd: empty name (a stream socket would drop the descriptor)")
	}
	if len(name) >= MaxNameLen {
		return fmt.Errorf("send fd %q: name longer than %d bytes", name[:64]+"...", MaxNameLen-1)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("send fd %s: %w", name, err)
	}
	// Control keeps f's descriptor from being closed and reused while its
	// number sits in the message.
	return withFd(f, func(fd int) error {
		rights := unix.UnixRights(fd)
		var sent int
		var sendErr error
		err := rc.Write(func(sock uintptr) bool {
			sent, sendErr = unix.SendmsgN(int(sock), []byte(name), rights, nil, 0)
			// EAGAIN only happens on a non-blocking socket; returning false
			// makes Go wait until it is writable and call again.
			return sendErr != unix.EAGAIN
		})
		if err == nil {
			err = sendErr
		}
		if err != nil {
			return fmt.Errorf("send fd %s: %w", name, err)
		}
		if sent != len(name) {
			// The descriptor went with the first part; a receiver would see
			// a truncated name and the rest as the start of its next read.
			return fmt.Errorf("send fd %s: short write (%d of %d bytes)", name, sent, len(name))
		}
		return nil
	})
}

// RecvFd receives one descriptor sent by SendFd (or by anything that sends
// one descriptor with some data, as runc does) over conn, a connected
// AF_UNIX socket, and returns it as an *os.File named by the message's data.
// A trailing NUL in the data is dropped, since C senders often include the
// string terminator.
//
// The descriptor is received with MSG_CMSG_CLOEXEC so it cannot leak into a
// child started concurrently. The returned file is in whatever blocking mode
// the sender's open file was (the mode belongs to the shared open file, so
// RecvFd does not change it): a blocking one is not on Go's poller, so its
// reads ignore deadlines and are not interrupted by Close.
//
// It fails, closing anything received, unless exactly one descriptor
// arrives. If the peer closed the connection without sending, the error
// wraps io.EOF.
func RecvFd(conn syscall.Conn) (*os.File, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	data := make([]byte, MaxNameLen)
	// Room for exactly one descriptor: if more were sent the kernel closes
	// the excess and reports MSG_CTRUNC, which is refused below.
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn, flags int
	var recvErr error
	err = rc.Read(func(sock uintptr) bool {
		n, oobn, flags, _, recvErr = unix.Recvmsg(int(sock), data, oob, unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}

	// Collect whatever arrived before judging the message, so that every
	// error path below closes the descriptors instead of leaking them.
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	fail := func(format string, args ...any) (*os.File, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive fd: "+format, args...)
	}
	switch {
	case flags&unix.MSG_CTRUNC != 0:
		return fail("control data truncated (more than one descriptor sent?)")
	case flags&unix.MSG_TRUNC != 0:
		return fail("name longer than %d bytes", MaxNameLen)
	case len(fds) == 0 && n == 0:
		return fail("connection closed before a descriptor arrived: %w", io.EOF)
	case len(fds) != 1:
		return fail("got %d descriptors with %q, want 1", len(fds), data[:n])
	}
	name := string(bytes.TrimRight(data[:n], "\x00"))
	return os.NewFile(uintptr(fds[0]), name), nil
}

// parseRights returns the descriptors in every SCM_RIGHTS message of oob,
// closing them all if oob cannot be parsed completely.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// SendToSocket connects to the AF_UNIX stream socket at path (the client's
// --console-socket), sends f over it with SendFd, named f.Name(), and closes
// the connection. That is the whole protocol containerd's shim and podman's
// conmon expect: one message carrying one descriptor. runc sends the pty
// master with its file name as the data, which for a master from OpenPty is
// the ptmx path ("/dev/ptmx"); a master received with RecvFd carries the
// name its sender gave, so forwarding it keeps that name.
//
// SendToSocket neither duplicates nor closes f. The runtime must keep no copy
// of the master once the client has it (a copy would keep the terminal open
// after the client closes it), so the caller closes f as soon as this
// returns, whether or not it succeeded.
//
// Paths too long for a socket address (107 bytes) are reached through
// /proc/self/fd, as a bundle or state directory can be deep.
func SendToSocket(path string, f *os.File) error {
	conn, err := DialUnix(path)
	if err != nil {
		return fmt.Errorf("connect to console socket: %w", err)
	}
	if err := SendFd(conn, f.Name(), f); err != nil {
		conn.Close()
		return fmt.Errorf("console socket %s: %w", path, err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("close console socket %s: %w", path, err)
	}
	return nil
}

// sunPathMax is the room for a path in struct sockaddr_un on Linux, which
// need not hold a terminating NUL when full.
const sunPathMax = len(unix.RawSockaddrUnix{}.Path)

// DialUnix connects to the AF_UNIX stream socket at path, even one longer
// than sockaddr_un holds (through an O_PATH fd of it).
func DialUnix(path string) (*net.UnixConn, error) {
	if len(path) <= sunPathMax {
		return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	}
	// connect() resolves the magic link of an O_PATH descriptor to the
	// socket inode itself, so the short /proc path stands for the long one.
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(fd), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	return conn, nil
}
