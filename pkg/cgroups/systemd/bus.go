package systemd

// The shared connection to systemd's D-Bus API.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// isDBusError reports whether err is the D-Bus error name.
func isDBusError(err error, name string) bool {
	var derr dbus.Error
	return errors.As(err, &derr) && derr.Name == name
}

// systemdBus is a connection to systemd's D-Bus API that managers share:
// made on first use and kept for the process (rt handles one container
// per command), and made again, once per call, when a call finds it
// closed (dbus-daemon or systemd restarted meanwhile).
type systemdBus struct {
	// dial connects; it must not tie the connection to a context that
	// ends, as godbus closes a connection when its context is done.
	dial func() (*sddbus.Conn, error)

	mu   sync.Mutex
	conn *sddbus.Conn
}

// hostBus is the host's systemd: the system bus, or, as root, systemd's
// private socket (/run/systemd/private) where no dbus-daemon runs.
var hostBus = &systemdBus{dial: func() (*sddbus.Conn, error) {
	return sddbus.NewWithContext(context.Background())
}}

// call runs op on the connection.
func (b *systemdBus) call(op func(*sddbus.Conn) error) error {
	for retried := false; ; retried = true {
		conn, err := b.get()
		if err != nil {
			return err
		}
		err = op(conn)
		// A closed connection shows as godbus's ErrClosed, or, when its
		// reader saw the socket go first, as the socket's own error.
		closed := errors.Is(err, dbus.ErrClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
		if retried || !closed {
			return err
		}
		b.drop(conn)
	}
}

func (b *systemdBus) get() (*sddbus.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		conn, err := b.dial()
		if err != nil {
			return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
		}
		b.conn = conn
	}
	return b.conn, nil
}

// drop closes conn if it is still the current connection.
func (b *systemdBus) drop(conn *sddbus.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == conn {
		b.conn.Close()
		b.conn = nil
	}
}

// close closes the connection, if any; the next call connects again.
func (b *systemdBus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
}
