package systemd

// Which systemd answers: the version that decides which properties it takes.

import (
	"fmt"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// systemdVersion returns systemd's version number, asking once per
// manager: which properties exist depends on it.
func (m *manager) systemdVersion() (int, error) {
	if m.version > 0 {
		return m.version, nil
	}
	var s string
	err := m.bus.call(func(c *sddbus.Conn) error {
		var err error
		s, err = c.GetManagerProperty("Version")
		return err
	})
	if err == nil {
		m.version, err = parseSystemdVersion(s)
	}
	if err != nil {
		return 0, fmt.Errorf("cgroups: systemd: read systemd's version for unit %s: %w", m.unit.name, err)
	}
	return m.version, nil
}

// parseSystemdVersion reads the number a systemd version starts with:
// "252", "v245.4-1.fc32", or "\"252.39-1~deb12u1\"" as go-systemd returns
// the Version property (quoted, in GVariant text).
func parseSystemdVersion(s string) (int, error) {
	digits := strings.TrimLeft(s, `"v`)
	if end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
		digits = digits[:end]
	}
	v, err := strconv.Atoi(digits)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("parse systemd version %q: it starts with no version number", s)
	}
	return v, nil
}
