package fs

import (
	"fmt"

	libcg "github.com/opencontainers/cgroups"
	libfs "github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"

	"github.com/rtkit/rt/pkg/killpoint"
)

// freezer returns the container's directory that Freeze acts on: the v1
// freezer's if mounted, else cgroup2's, whose cgroup.freeze is no
// controller and works on a hybrid host's unified mount too. v2 tells
// which.
func (m *Manager) freezer(op string) (dir string, v2 bool, err error) {
	if d, ok := m.paths["freezer"]; ok {
		return d, false, nil
	}
	if d, ok := m.paths[""]; ok {
		return d, true, nil
	}
	return "", false, fmt.Errorf("cgroups: %s: no freezer: neither a v1 freezer hierarchy nor cgroup2 is mounted", op)
}

func (m *Manager) Freeze() error { return m.setFrozen(libcg.Frozen) }

func (m *Manager) Thaw() error { return m.setFrozen(libcg.Thawed) }

// setFrozen is the library's freezer on rt's directory; see the package
// documentation for why the library's.
func (m *Manager) setFrozen(state libcg.FreezerState) error {
	op := "freeze"
	if state == libcg.Thawed {
		op = "thaw"
	}
	dir, v2, err := m.freezer(op)
	if err != nil {
		return err
	}
	killpoint.Hit("cgroups.freezer")
	if v2 {
		var fm *fs2.Manager
		if fm, err = fs2Manager(dir); err == nil {
			err = fm.Freeze(state)
		}
	} else {
		err = (&libfs.FreezerGroup{}).Set(dir, &libcg.Resources{Freezer: state})
	}
	if err != nil {
		return fmt.Errorf("cgroups: %s %s: %w", op, dir, err)
	}
	return nil
}

func (m *Manager) Frozen() (bool, error) {
	dir, v2, err := m.freezer("read the freezer state")
	if err != nil {
		return false, err
	}
	var state libcg.FreezerState
	if v2 {
		var fm *fs2.Manager
		if fm, err = fs2Manager(dir); err == nil {
			state, err = fm.GetFreezerState()
		}
	} else {
		state, err = (&libfs.FreezerGroup{}).GetState(dir)
	}
	if err != nil {
		return false, fmt.Errorf("cgroups: read the freezer state of %s: %w", dir, err)
	}
	return state == libcg.Frozen, nil
}

// fs2Manager is the library's cgroup2 manager on the directory dir. It is
// only ever asked to freeze and to read: its Apply and Destroy would place
// and remove cgroups by its own rules, not rt's.
func fs2Manager(dir string) (*fs2.Manager, error) {
	return fs2.NewManager(&libcg.Cgroup{Resources: &libcg.Resources{}}, dir)
}
