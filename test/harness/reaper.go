package harness

// A client suite's safety net: a second copy of the test binary that tears
// the suite down when the first ends, however it ends (-run leaving out
// the last test, a crash, a timeout).

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Reaper is a started reaper: closing it (the suite's last test does)
// lets it go without tearing down again.
type Reaper struct {
	in  io.WriteCloser
	env string
}

// StartReaper starts the test binary again with env=dir in its
// environment (TestMain hands it to Reap). Its stdin is a pipe whose write
// end only this process holds: when this process ends, the reaper reads
// EOF and tears dir down. Its output goes to /dev/null so that go test
// does not wait for it.
func StartReaper(env, dir string) (*Reaper, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), env+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go cmd.Wait()
	return &Reaper{in: in, env: env}, nil
}

// Close ends the reaper's wait.
func (r *Reaper) Close() error { return r.in.Close() }

// Reap is called first in TestMain: in a reaper (env is set) it waits for
// its stdin to end, runs teardown on the directory if it still exists, and
// exits; elsewhere it returns.
func Reap(env string, teardown func(dir string)) {
	dir := os.Getenv(env)
	if dir == "" {
		return
	}
	io.Copy(io.Discard, os.Stdin)
	if _, err := os.Stat(dir); err == nil {
		teardown(dir)
	}
	os.Exit(0)
}

// IsReaper reports whether pid is a reaper started with env, which
// lives under the suite's directory but is not the suite's to kill.
func IsReaper(env string) func(pid int) bool {
	return func(pid int) bool {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		return strings.Contains(string(data), env+"=")
	}
}
