package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/process"
)

// initSpawn is an rt-init to start, for a container's init (create) or an
// additional process (exec).
type initSpawn struct {
	// bin is the sealed memfd copy of rt-init to execute.
	bin *initCopy
	// dir is the working directory (the bundle: relative mount sources).
	dir string
	// fifo becomes fd initproto.FdFifo; nil for exec.
	fifo *os.File
	// extra passes rt's fds 3…3+extra-1 on from initproto.FdPreserved.
	extra int
	stdio api.Stdio
	ns    initproto.Namespaces
	// kind and facts are the conversation rt has with it.
	kind  initproto.Kind
	facts initproto.Facts
	// cgroup, if not nil, is the way into the process's cgroups: it is
	// born in the cgroup2 one and stage 0 enters the v1 ones itself.
	cgroup *cgroups.Entry
}

// startedInit is an rt-init past its C stage: the process in the
// container's namespaces (rt's child, thanks to CLONE_PARENT) and rt's end
// of the socket, which the caller closes.
type startedInit struct {
	sock *os.File
	// conv is rt's end of the conversation on sock, facts what it has.
	conv      *initproto.Conv
	facts     initproto.Facts
	pid       int
	startTime uint64
	// entered says the process is in the cgroups of initSpawn.cgroup.
	// Without it (no entry given, or a kernel without CLONE_INTO_CGROUP),
	// the caller moves it in with Manager.Apply.
	entered bool
}

// spawnInit starts rt-init and runs its C stage: namespaces joined and
// created, the process forked. On error nothing it started is left: stage 0
// is killed and reaped, and the process, if forked, exits when the socket
// closes.
func (r *Runtime) spawnInit(sp initSpawn) (*startedInit, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	sock, childSock := os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "init")
	defer childSock.Close()
	ok := false
	defer func() {
		if !ok {
			sock.Close()
		}
	}()
	bin, err := sp.bin.file()
	if err != nil {
		return nil, err
	}
	fifo := sp.fifo
	if fifo == nil {
		// The slot is positional: keep fd numbers the same as for create.
		if fifo, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
		defer fifo.Close()
	}
	cmd, entered := initCommand(&sp, bin, childSock, fifo)
	err = cmd.Start()
	if err != nil && cmd.SysProcAttr != nil && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG)) {
		// No clone3 or no CLONE_INTO_CGROUP (before Linux 5.7): start it
		// outside and let the caller move it into cgroup2 (Apply
		// rejoins the v1 cgroups harmlessly).
		cmd.SysProcAttr, entered = nil, false
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start rt-init %s: %w", sp.bin.path, err)
	}
	defer func() {
		if !ok && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	childSock.Close()
	killpoint.Hit("spawn.started")
	conv := initproto.NewConv(sock, sp.kind, initproto.Runtime, sp.facts)
	if err := conv.Send(initproto.MsgNamespaces, sp.ns.Encode()); err != nil {
		return nil, initFailed(cmd, "send namespaces", err)
	}
	pidMsg, err := conv.Recv(initproto.MsgPid)
	if err != nil {
		return nil, initFailed(cmd, "namespaces", err)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("namespaces: rt-init stage 0: %w", err)
	}
	killpoint.Hit("spawn.forked")
	if len(pidMsg) != 4 {
		return nil, fmt.Errorf("namespaces: bad pid message (%d bytes)", len(pidMsg))
	}
	pid := int(int32(binary.NativeEndian.Uint32(pidMsg)))
	start, err := ProcStartTime(pid)
	if err != nil {
		return nil, fmt.Errorf("container process %d: %w", pid, err)
	}
	ok = true
	return &startedInit{sock: sock, conv: conv, facts: sp.facts, pid: pid, startTime: start, entered: entered}, nil
}

// initCommand is the command that starts rt-init for sp, with childSock
// and fifo as its protocol fds, and whether it starts in sp.cgroup's
// cgroups. It sets sp.ns's cgroup fields to match its fds.
func initCommand(sp *initSpawn, bin *os.File, childSock, fifo *os.File) (*exec.Cmd, bool) {
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(int(bin.Fd())),
		Args:       []string{"rt-init"},
		Env:        []string{initproto.EnvInitFD + "=" + strconv.Itoa(initproto.FdInit)},
		Dir:        sp.dir,
		ExtraFiles: []*os.File{childSock, fifo},
		Stdin:      stdioFile(sp.stdio.Stdin, os.Stdin),
		Stdout:     stdioFile(sp.stdio.Stdout, os.Stdout),
		Stderr:     stdioFile(sp.stdio.Stderr, os.Stderr),
	}
	for i := 0; i < sp.extra; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	entered := false
	// The first fd past the protocol's: stage 0 closes it and all above.
	sp.ns.CgroupFD = uint32(3 + len(cmd.ExtraFiles))
	if e := sp.cgroup; e != nil {
		sp.ns.NumCgroup = uint32(len(e.Tasks))
		cmd.ExtraFiles = append(cmd.ExtraFiles, e.Tasks...)
		if e.Dir != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(e.Dir.Fd())}
		}
		entered = true
	}
	return cmd, entered
}

// spawnOn runs spawn on a thread of its own whose CPU affinity is cpus
// (list, as the config gives it), or on any thread when cpus is nil. It is
// how exec honours process.execCPUAffinity.initial, as runc does: a child
// inherits the affinity of the thread that forks it, so rt-init runs on
// those CPUs from its first instruction, before it enters the container's
// cgroups. The goroutine exits locked, which ends its thread: no other
// goroutine of rt ever runs with that affinity.
func spawnOn(cpus []uint64, list string, spawn func() (*startedInit, error)) (*startedInit, error) {
	if cpus == nil {
		return spawn()
	}
	type result struct {
		init *startedInit
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see above
		if err := process.CPUSet(cpus).SetThread(); err != nil {
			done <- result{err: fmt.Errorf("process.execCPUAffinity.initial %q: %w", list, err)}
			return
		}
		init, err := spawn()
		done <- result{init, err}
	}()
	r := <-done
	return r.init, r.err
}
