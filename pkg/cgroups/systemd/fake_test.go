package systemd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	sdlib "github.com/opencontainers/cgroups/systemd"

	"github.com/rtkit/rt/pkg/cgroups"
)

// The systemd driver against a fake systemd: a dbus-daemon of the test's
// own, on which an in-process object owns org.freedesktop.systemd1 and
// answers the driver's calls as systemd would (jobs reported through
// JobRemoved, D-Bus errors by name), making and removing the unit's
// directories in a fake cgroup tree. The driver's code is the real one,
// go-systemd included; only the bus address differs. The last test talks
// to the host's systemd, where there is one.

// startBus starts a dbus-daemon that lets anyone do anything, listening
// on a socket of its own, and returns its address. The daemon is killed
// when the test ends.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian package dbus-daemon, dbus before Debian 12; scripts/deps.sh installs it): the fake systemd needs a bus of its own")
	}
	// Not t.TempDir(): a test's name makes it long, and a socket's path
	// has at most 107 bytes.
	dir, err := os.MkdirTemp("", "rtbus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>rt-test</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--print-address")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("dbus-daemon printed no address: %s", stderr.String())
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address within 10 s: %s", stderr.String())
	}
	return ""
}

// dialBus connects to the bus at addr as root's systemd.NewWithContext
// connects to the system bus.
func dialBus(addr string) (*dbus.Conn, error) {
	c, err := dbus.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// fakeSystemd answers org.freedesktop.systemd1.Manager's calls the driver
// makes. Its exported methods are the D-Bus ones.
type fakeSystemd struct {
	conn *dbus.Conn
	hs   []cgroups.Mount
	// manages says in which hierarchies systemd makes the unit's
	// directory; the others are left to the driver.
	manages func(h *cgroups.Mount) bool
	// files are the files a new directory in h has (the kernel's).
	files   func(h *cgroups.Mount) map[string]string
	version string // the Version property

	mu    sync.Mutex
	calls []fakeCall
	units map[string]*fakeUnit
	jobs  uint32
	// What to get wrong: the result of start and stop jobs ("" is
	// "done"), whether start jobs are never reported (a hung systemd),
	// the error SetUnitProperties answers.
	startResult, stopResult string
	silent                  bool
	setErr                  *dbus.Error
}

type fakeCall struct {
	method, unit string
	props        []sddbus.Property
}

// fakeUnit is a loaded unit: running with its directories, or failed.
type fakeUnit struct {
	failed bool
	dirs   []string
}

// startFakeSystemd puts a fake systemd on the bus at addr, over the
// hierarchies hs.
func startFakeSystemd(t *testing.T, addr string, hs []cgroups.Mount, manages func(*cgroups.Mount) bool, files func(*cgroups.Mount) map[string]string) *fakeSystemd {
	t.Helper()
	conn, err := dialBus(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeSystemd{conn: conn, hs: hs, manages: manages, files: files, version: "252.39-1~deb12u1", units: map[string]*fakeUnit{}}
	const path = "/org/freedesktop/systemd1"
	if err := conn.Export(f, path, "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(fakeProperties{f}, path, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.systemd1: %v, %v", reply, err)
	}
	return f
}

func (f *fakeSystemd) record(method, unit string, props []sddbus.Property) {
	f.calls = append(f.calls, fakeCall{method, unit, props})
}

// job reports a new job's end with JobRemoved, as systemd does, and
// returns its path.
func (f *fakeSystemd) job(unit, result string, report bool) dbus.ObjectPath {
	f.jobs++
	job := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", f.jobs))
	if result == "" {
		result = "done"
	}
	if report {
		// Sent before the reply, which go-systemd copes with: it
		// registers the job before it reads the reply's signals.
		_ = f.conn.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved", f.jobs, job, unit, result)
	}
	return job
}

func noSuchUnit(name string) *dbus.Error {
	return dbus.NewError(errNoSuchUnit, []any{fmt.Sprintf("Unit %s not loaded.", name)})
}

func (f *fakeSystemd) StartTransientUnit(name, mode string, props []sddbus.Property, aux []sddbus.PropertyCollection) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartTransientUnit", name, props)
	if _, ok := f.units[name]; ok {
		return "", dbus.NewError(errUnitExists, []any{fmt.Sprintf("Unit %s already exists.", name)})
	}
	u := &fakeUnit{failed: f.startResult != "" && f.startResult != "done"}
	f.units[name] = u
	if !u.failed {
		if err := f.makeDirs(name, props, u); err != nil {
			return "", dbus.MakeFailedError(err)
		}
	}
	return f.job(name, f.startResult, !f.silent), nil
}

// makeDirs makes the unit's directory in the hierarchies systemd manages,
// where systemd's rules put it, and moves the unit's PIDs there.
func (f *fakeSystemd) makeDirs(name string, props []sddbus.Property, u *fakeUnit) error {
	var dir string
	var pids []uint32
	for _, p := range props {
		switch p.Name {
		case "Slice":
			parent, err := sdlib.ExpandSlice(p.Value.Value().(string))
			if err != nil {
				return err
			}
			dir = filepath.Join(parent, name)
		case "PIDs":
			pids = p.Value.Value().([]uint32)
		}
	}
	if strings.HasSuffix(name, ".slice") {
		var err error
		if dir, err = sdlib.ExpandSlice(name); err != nil {
			return err
		}
	}
	if dir == "" {
		return errors.New("a scope without Slice")
	}
	for i := range f.hs {
		h := &f.hs[i]
		if !f.manages(h) {
			continue
		}
		d := filepath.Join(h.Mountpoint, dir)
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		u.dirs = append(u.dirs, d)
		for file, content := range f.files(h) {
			if err := os.WriteFile(filepath.Join(d, file), []byte(content), 0o644); err != nil {
				return err
			}
		}
		var procs []string
		for _, pid := range pids {
			procs = append(procs, strconv.Itoa(int(pid)))
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strings.Join(procs, "\n")), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSystemd) StopUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopUnit", name, nil)
	u, ok := f.units[name]
	if !ok {
		return "", noSuchUnit(name)
	}
	if f.stopResult == "" {
		// A stopped transient unit is unloaded at once.
		for _, d := range u.dirs {
			if err := os.RemoveAll(d); err != nil {
				return "", dbus.MakeFailedError(err)
			}
		}
		delete(f.units, name)
	}
	return f.job(name, f.stopResult, true), nil
}

func (f *fakeSystemd) ResetFailedUnit(name string) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ResetFailedUnit", name, nil)
	u, ok := f.units[name]
	if !ok {
		return noSuchUnit(name)
	}
	if u.failed {
		delete(f.units, name)
	}
	return nil
}

func (f *fakeSystemd) SetUnitProperties(name string, runtime bool, props []sddbus.Property) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SetUnitProperties", name, props)
	if !runtime {
		return dbus.MakeFailedError(errors.New("the fake wants runtime properties"))
	}
	if _, ok := f.units[name]; !ok {
		return noSuchUnit(name)
	}
	return f.setErr
}

// fakeProperties is org.freedesktop.DBus.Properties of the fake's
// manager object: only the Version property.
type fakeProperties struct{ f *fakeSystemd }

func (p fakeProperties) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.record("Get", iface+"."+name, nil)
	if iface != "org.freedesktop.systemd1.Manager" || name != "Version" {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"the fake has only Version"})
	}
	return dbus.MakeVariant(p.f.version), nil
}

// with runs change on f, which the D-Bus methods' goroutines read.
func (f *fakeSystemd) with(change func(f *fakeSystemd)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// methods lists the calls as "Method unit".
func (f *fakeSystemd) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.method+" "+c.unit)
	}
	return out
}

// lastProps are the properties of the last call of method.
func (f *fakeSystemd) lastProps(method string) []sddbus.Property {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].method == method {
			return f.calls[i].props
		}
	}
	return nil
}
