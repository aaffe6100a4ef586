package systemd

// The unit a container's cgroup is under the systemd driver, from the
// spec's "slice:prefix:name" cgroupsPath.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	sdlib "github.com/opencontainers/cgroups/systemd"
)

// systemdUnit is where a container's cgroup is under the systemd driver.
type systemdUnit struct {
	name   string // the unit: "rt-c1.scope", or a slice
	parent string // the slice it is in: "system.slice"
	// dir is the unit's cgroup below the top of each hierarchy:
	// "/system.slice/rt-c1.scope".
	dir string
}

// slice reports whether the unit is a slice rather than a scope.
func (u *systemdUnit) slice() bool { return strings.HasSuffix(u.name, ".slice") }

// parseSystemdPath computes the unit of a container from its
// linux.cgroupsPath and id; see New for the rules.
func parseSystemdPath(path, id string) (systemdUnit, error) {
	bad := func(format string, args ...any) (systemdUnit, error) {
		return systemdUnit{}, fmt.Errorf("cgroups: systemd driver: cgroupsPath %q: %s", path, fmt.Sprintf(format, args...))
	}
	slice, prefix, name := "system.slice", "rt", id
	if path == "" {
		if id == "" {
			return systemdUnit{}, errors.New("cgroups: systemd driver: neither a cgroups path nor a container id")
		}
	} else {
		parts := strings.Split(path, ":")
		if len(parts) != 3 {
			return bad(`want "slice:prefix:name" (e.g. "system.slice:rt:c1")`)
		}
		if parts[0] != "" {
			slice = parts[0]
		}
		prefix, name = parts[1], parts[2]
		if name == "" {
			return bad(`the name (after the second ":") is empty`)
		}
	}
	parentDir, err := expandSlice(slice)
	if err != nil {
		return bad("%v", err)
	}
	u := systemdUnit{parent: slice}
	switch {
	case strings.HasSuffix(name, ".slice"):
		u.name = name
		if u.dir, err = expandSlice(name); err != nil {
			return bad("%v", err)
		}
		// systemd places a slice by its name alone; a directory
		// computed from the parent would not be where the unit is.
		if filepath.Dir(u.dir) != parentDir {
			return bad("slice %s is not a child of %s (systemd puts it at %s; name it %s-<name>.slice)",
				name, slice, u.dir, strings.TrimSuffix(slice, ".slice"))
		}
		return u, nil
	case prefix == "":
		u.name = name + ".scope"
	default:
		u.name = prefix + "-" + name + ".scope"
	}
	if err := checkUnitName(u.name); err != nil {
		return bad("%v", err)
	}
	u.dir = filepath.Join(parentDir, u.name)
	return u, nil
}

// expandSlice is the library's ExpandSlice (runc's rules) after the
// character check systemd makes, which it leaves out.
func expandSlice(slice string) (string, error) {
	if err := checkUnitName(slice); err != nil {
		return "", err
	}
	return sdlib.ExpandSlice(slice)
}

// checkUnitName refuses what systemd refuses in a unit name
// (unit_name_is_valid): more than 255 bytes, or a byte other than a
// letter, a digit or one of ":-_.\". Besides a clear error before any
// D-Bus call, it keeps "/" and so ".." components out of the directories
// computed from the name. "@", which systemd allows for instances of
// templates, is refused: a transient unit is no template's instance.
func checkUnitName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("unit name %s… is longer than systemd's 255 bytes", name[:32])
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":-_.\\", c) >= 0) {
			return fmt.Errorf("unit name %q has %q, which systemd does not allow (letters, digits and \":-_.\\\" only)", name, c)
		}
	}
	return nil
}
