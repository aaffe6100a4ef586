package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/rootfs"
)

// idmappedTrees makes, for each idmapped bind of s, the idmapped copy of its
// source (rootfs.OpenIDMapped), keyed by the mount's index, for rt-init to
// move into place: idmapping needs rt's privilege on the host.
//
// The source is resolved in rt's mount namespace, where rt-init's was
// copied from, relative to the bundle; runc resolves it in the container's,
// which differs only for a source under a mount the container made before.
// On error nothing is left open.
func idmappedTrees(s *specs.Spec, bundle string, pid int) (_ map[int]*os.File, retErr error) {
	trees := map[int]*os.File{}
	defer func() {
		if retErr != nil {
			closeFiles(trees)
		}
	}()
	users := &idmapUserns{pid: pid}
	defer users.close()
	for i, m := range s.Mounts {
		idm := rootfs.MountIDMap(m)
		if idm == nil {
			continue
		}
		fail := func(err error) error {
			return fmt.Errorf("rootfs: mount %s on %s: %w", m.Source, m.Destination, err)
		}
		if os.Geteuid() != 0 {
			return nil, fail(errors.New("idmap: idmapped mounts need rt to run as root (runc: not supported for rootless containers)"))
		}
		ns, err := users.get(idm)
		if err != nil {
			return nil, fail(fmt.Errorf("idmap: %w", err))
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		if trees[i], err = rootfs.OpenIDMapped(src, idm, ns); err != nil {
			return nil, fail(err)
		}
	}
	return trees, nil
}

// idmapUserns hands out the user namespaces idmapped mounts are made with:
// the container's own for a mount without mappings of its own (the init's,
// whose maps rt has written, or the one it joined), else one with the
// mount's mappings, made once for all the mounts that give the same.
type idmapUserns struct {
	pid  int
	made map[string]*os.File
}

func (u *idmapUserns) get(idm *rootfs.IDMap) (*os.File, error) {
	key := fmt.Sprint(idm.UIDs, idm.GIDs)
	if idm.UIDs == nil && idm.GIDs == nil {
		key = "container"
	}
	if f, ok := u.made[key]; ok {
		return f, nil
	}
	var f *os.File
	var err error
	if key == "container" {
		f, err = os.Open(fmt.Sprintf("/proc/%d/ns/user", u.pid))
	} else {
		f, err = newUserns(idm.UIDs, idm.GIDs)
	}
	if err != nil {
		return nil, err
	}
	if u.made == nil {
		u.made = map[string]*os.File{}
	}
	u.made[key] = f
	return f, nil
}

// close closes the namespace handles: an idmapped mount holds its own
// reference to the namespace it was made with.
func (u *idmapUserns) close() { closeFiles(u.made) }

// newUserns returns a user namespace with the given mappings. A namespace
// needs a process: unshare(CLONE_NEWUSER) refuses a multi-threaded one. The
// child runs nothing: it is started traced, so it stops at its execve (of
// rt itself), in the new namespace whose maps Go's fork wrote before letting
// it go on; the namespace is opened through /proc and the child killed. runc
// does the same (userns.Handles).
func newUserns(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	p, err := os.StartProcess("/proc/self/exe", []string{"rt (user namespace for an idmapped mount)"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sysIDMaps(uids),
			GidMappings: sysIDMaps(gids),
			Ptrace:      true,
		},
	})
	if err != nil {
		// The error is the kernel's, from fork or from writing the maps;
		// "fork/exec /proc/self/exe" would only mislead.
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("a user namespace with uidMappings %s, gidMappings %s: %w", formatIDMaps(uids), formatIDMaps(gids), err)
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", p.Pid))
	if err != nil {
		return nil, fmt.Errorf("a user namespace with uidMappings %s, gidMappings %s: %w", formatIDMaps(uids), formatIDMaps(gids), err)
	}
	return f, nil
}

// formatIDMaps writes mappings as uid_map lists them: "[0 100000 65536]".
func formatIDMaps(m []specs.LinuxIDMapping) string {
	s := make([]string, len(m))
	for i, e := range m {
		s[i] = fmt.Sprintf("%d %d %d", e.ContainerID, e.HostID, e.Size)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func sysIDMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// closeFiles closes every file of m.
func closeFiles[K comparable](m map[K]*os.File) {
	for _, f := range m {
		f.Close()
	}
}
