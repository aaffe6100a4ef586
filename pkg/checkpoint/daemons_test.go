package checkpoint

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
)

// gone reports whether pid no longer runs (or is a zombie).
func gone(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// TestFollow: a page server is criu's child, not rt's; its Daemon waits
// for it and kills it through a pidfd.
func TestFollow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "page-server.log")
	start := func(t *testing.T, ctx context.Context, script string) *Daemon {
		t.Helper()
		fd := grandchild(t, script)
		pid, err := pidOfPidfd(fd)
		if err != nil {
			t.Fatal(err)
		}
		d, err := follow(ctx, "page-server", pid, 1234, log)
		if err != nil {
			t.Fatal(err)
		}
		if d.Pid() != pid || d.Port() != 1234 {
			t.Errorf("pid %d port %d, want %d 1234", d.Pid(), d.Port(), pid)
		}
		return d
	}
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		if err := start(t, context.Background(), "sleep 0.1").Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		os.WriteFile(log, []byte("(00.1) Starting page server\n(00.2) Error (criu/util.c:1238): Can't bind page server: Address already in use\n"), 0o600)
		err := start(t, context.Background(), "sleep 0.1; exit 1").Wait()
		var cerr *CRIUError
		if !errors.As(err, &cerr) || cerr.Step != "page-server" {
			t.Fatalf("Wait: %v, want a page-server CRIUError", err)
		}
		if want := "criu page-server failed: exit status 1: Starting page server | Error (criu/util.c:1238): Can't bind page server: Address already in use (log: " + log + ")"; err.Error() != want {
			t.Errorf("error:\n got %q\nwant %q", err, want)
		}
	})
	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		d := start(t, context.Background(), "sleep 600")
		d.Kill()
		if !gone(d.Pid()) {
			t.Errorf("pid %d runs after Kill", d.Pid())
		}
		err := d.Wait()
		if !errors.Is(err, ErrDaemonKilled) {
			t.Errorf("Wait after Kill: %v, want ErrDaemonKilled", err)
		}
		d.Kill() // again, after Wait: nothing happens
		if err2 := d.Wait(); err2 != err {
			t.Errorf("Wait changed: %v, was %v", err2, err)
		}
	})
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		d := start(t, ctx, "sleep 600")
		cancel()
		err := d.Wait()
		if !errors.Is(err, ErrDaemonKilled) || !errors.Is(err, context.Canceled) {
			t.Errorf("Wait after the context's end: %v", err)
		}
		if !gone(d.Pid()) {
			t.Errorf("pid %d runs after the context's end", d.Pid())
		}
	})
}

// pidOfPidfd reads the pid of a pidfd from its fdinfo.
func pidOfPidfd(fd int) (int, error) {
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no Pid in fdinfo")
}

func TestDaemonOutcome(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.log")
	os.WriteFile(clean, []byte("(00.1) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.2) page-xfer: Session over\n"), 0o600)
	failed := filepath.Join(dir, "failed.log")
	os.WriteFile(failed, []byte("(00.1) Accepted connection\n(00.2) Error (criu/tls.c:1): tls: handshake failed\n"), 0o600)
	exit := func(code int) unix.WaitStatus { return unix.WaitStatus(code << 8) }
	tests := []struct {
		name   string
		log    string
		ws     unix.WaitStatus
		werr   error
		killed error
		want   string // "" for success
	}{
		{"exit 0", failed, exit(0), nil, nil, ""},
		{"exit 0 after a late kill", failed, exit(0), nil, ErrDaemonKilled, ""},
		{"killed by rt", failed, unix.WaitStatus(unix.SIGKILL), nil, ErrDaemonKilled, "criu page-server (pid 7) killed"},
		{"exit 1", failed, exit(1), nil, nil, "criu page-server failed: exit status 1: Accepted connection | Error (criu/tls.c:1): tls: handshake failed (log: " + failed + ")"},
		{"killed by another", failed, unix.WaitStatus(unix.SIGSEGV), nil, nil, "criu page-server failed: killed by segmentation fault: "},
		{"status unknown, clean log", clean, 0, errNoExitStatus, nil, ""},
		{"status unknown, error in the log", failed, 0, errNoExitStatus, nil, "criu page-server failed: exit status unknown: Accepted connection"},
		{"status unknown, no log", filepath.Join(dir, "none"), 0, errNoExitStatus, nil, "criu page-server failed: exit status unknown"},
		{"wait failed", failed, 0, errors.New("poll: EBADF"), nil, "wait for criu page-server (pid 7): poll: EBADF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDaemon("page-server", 7, 1, tt.log, func() {})
			d.killed = tt.killed
			err := d.outcome(tt.ws, tt.werr)
			if tt.want == "" {
				if err != nil {
					t.Errorf("outcome: %v, want success", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("outcome:\n got %v\nwant %q…", err, tt.want)
			}
		})
	}
}

// fakeLazyCRIU writes a shell script standing for criu: it records its
// arguments and pid in dir, finds its log (-o), and runs body, in which
// LOG is the log's path and fd 3 the status pipe.
func fakeLazyCRIU(t *testing.T, body string) (rt *Runtime, dir string) {
	t.Helper()
	dir = t.TempDir()
	script := "#!/bin/sh\necho \"$@\" > " + dir + "/args\necho $$ > " + dir + "/pid\n" +
		"for a; do [ \"$prev\" = -o ] && LOG=$a; prev=$a; done\n" + body + "\n"
	criu := filepath.Join(dir, "criu")
	if err := os.WriteFile(criu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Runtime{criu: criu, progressTimeout: 2 * time.Second, log: slog.New(slog.DiscardHandler)}, dir
}

// lazyImages is an image directory with what StartLazyPages checks for.
func lazyImages(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"inventory.img", "pstree.img"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fakePid(t *testing.T, dir string) int {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, "pid"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("the fake criu recorded no pid: %v", err)
	}
	return pid
}

const ready = "printf '\\0' >&3; exec 3>&-"

// Long for its subtests, which share the set-up above them and read as one story.
func TestStartLazyPagesFake(t *testing.T) {
	t.Parallel()
	t.Run("ready then done", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r, dir := fakeLazyCRIU(t, ready+"\nsleep 0.2")
		d, err := r.StartLazyPages(context.Background(), LazyPagesOpts{ImagePath: images, Address: "10.0.0.1", Port: 27000})
		if err != nil {
			t.Fatal(err)
		}
		if d.Port() != 0 || d.Pid() != fakePid(t, dir) {
			t.Errorf("port %d pid %d", d.Port(), d.Pid())
		}
		if err := d.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
		args, _ := os.ReadFile(filepath.Join(dir, "args"))
		want := "lazy-pages --images-dir " + images + " -o " + filepath.Join(images, lazyPagesLog) + " -v4 --status-fd 3 --page-server --address 10.0.0.1 --port 27000\n"
		if string(args) != want {
			t.Errorf("criu's arguments:\n got %q\nwant %q", args, want)
		}
	})
	t.Run("ready then failed", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r, _ := fakeLazyCRIU(t, ready+"\necho '(00.1) Error (criu/page-xfer.c:1651): page-xfer: Remote side closed connection' >> $LOG\nexit 1")
		d, err := r.StartLazyPages(context.Background(), LazyPagesOpts{ImagePath: images})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Wait()
		if !errors.Is(err, ErrCRIU) || !strings.Contains(err.Error(), "criu lazy-pages failed: exit status 1: Error (criu/page-xfer.c:1651)") {
			t.Errorf("Wait: %v", err)
		}
	})
	t.Run("failed before ready", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r, _ := fakeLazyCRIU(t, "echo '(00.1) Error (criu/image.c:549): Head magic does not match for pstree.img' >> $LOG\nexit 1")
		_, err := r.StartLazyPages(context.Background(), LazyPagesOpts{ImagePath: images})
		if want := "criu lazy-pages failed: exit status 1: Error (criu/image.c:549): Head magic does not match for pstree.img (log: "; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("StartLazyPages: %v, want %q…", err, want)
		}
	})
	t.Run("never ready", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r, dir := fakeLazyCRIU(t, "echo '(00.1) Reading image tree' >> $LOG\nexec sleep 600")
		r.progressTimeout = 300 * time.Millisecond
		began := time.Now()
		_, err := r.StartLazyPages(context.Background(), LazyPagesOpts{ImagePath: images})
		if !errors.Is(err, ErrCRIUStalled) || !strings.Contains(err.Error(), "criu lazy-pages made no progress for 0.3 s (last log line: Reading image tree)") {
			t.Errorf("StartLazyPages: %v", err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("took %v", took)
		}
		if pid := fakePid(t, dir); !gone(pid) {
			t.Errorf("the daemon (pid %d) runs on", pid)
		}
	})
	t.Run("kill and context", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r, _ := fakeLazyCRIU(t, ready+"\nexec sleep 600")
		ctx, cancel := context.WithCancelCause(context.Background())
		d, err := r.StartLazyPages(ctx, LazyPagesOpts{ImagePath: images})
		if err != nil {
			t.Fatal(err)
		}
		cancel(errors.New("SIGTERM received"))
		err = d.Wait()
		if !errors.Is(err, ErrDaemonKilled) || !strings.HasSuffix(err.Error(), "killed: SIGTERM received") {
			t.Errorf("Wait: %v", err)
		}
		if !gone(d.Pid()) {
			t.Errorf("pid %d runs on", d.Pid())
		}
		d.Kill()
		d.Kill()
	})
	t.Run("no criu", func(t *testing.T) {
		t.Parallel()
		images := lazyImages(t)
		r := &Runtime{criu: filepath.Join(t.TempDir(), "criu"), log: slog.New(slog.DiscardHandler)}
		if _, err := r.StartLazyPages(context.Background(), LazyPagesOpts{ImagePath: images}); !errors.Is(err, ErrNoCRIU) {
			t.Errorf("StartLazyPages: %v, want ErrNoCRIU", err)
		}
	})
}

func TestLazyPagesArgs(t *testing.T) {
	images := lazyImages(t)
	tlsDir := t.TempDir()
	for _, f := range []string{"ca.pem", "c.pem", "k.pem"} {
		os.WriteFile(filepath.Join(tlsDir, f), nil, 0o600)
	}
	tls := &TLSFiles{CACert: filepath.Join(tlsDir, "ca.pem"), Cert: filepath.Join(tlsDir, "c.pem"), Key: filepath.Join(tlsDir, "k.pem")}
	work := filepath.Join(t.TempDir(), "work")
	noTree := t.TempDir()
	os.WriteFile(filepath.Join(noTree, "inventory.img"), nil, 0o600)
	tests := []struct {
		name string
		o    LazyPagesOpts
		want string // the arguments, or the error's text
		err  bool
	}{
		{"local pages", LazyPagesOpts{ImagePath: images},
			"lazy-pages --images-dir " + images + " -o " + images + "/lazy-pages.log -v4 --status-fd 3", false},
		{"work dir, server, TLS", LazyPagesOpts{ImagePath: images, WorkPath: work, Address: "::1", Port: 1, TLS: tls},
			"lazy-pages --images-dir " + images + " --work-dir " + work + " -o " + work + "/lazy-pages.log -v4 --status-fd 3 --page-server --address ::1 --port 1 " +
				"--tls --tls-cacert " + tls.CACert + " --tls-cert " + tls.Cert + " --tls-key " + tls.Key + " --tls-no-cn-verify", false},
		{"port without address", LazyPagesOpts{ImagePath: images, Port: 1}, "a port or TLS without the address", true},
		{"address without port", LazyPagesOpts{ImagePath: images, Address: "h"}, "page server h: no port", true},
		{"bad port", LazyPagesOpts{ImagePath: images, Address: "h", Port: 70000}, "port 70000: not a TCP port", true},
		{"no images", LazyPagesOpts{ImagePath: t.TempDir()}, "holds no checkpoint (no inventory.img)", true},
		{"no process tree", LazyPagesOpts{ImagePath: noTree}, "holds no process tree (no pstree.img)", true},
		{"TLS incomplete", LazyPagesOpts{ImagePath: images, Address: "h", Port: 1, TLS: &TLSFiles{CACert: tls.CACert}}, "TLS: no certificate file given", true},
		{"TLS file missing", LazyPagesOpts{ImagePath: images, Address: "h", Port: 1, TLS: &TLSFiles{CACert: tls.CACert, Cert: tls.Cert, Key: "/nonexistent/k.pem"}},
			"TLS key: open /nonexistent/k.pem: no such file or directory", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, _, err := lazyPagesArgs(tt.o)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(args, " "); got != tt.want {
				t.Errorf("args:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	if fi, err := os.Stat(work); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("work dir: %v, %v", fi, err)
	}
}

func TestCheckDaemonOptsUsage(t *testing.T) {
	for _, port := range []int{-1, 65536} {
		if err := checkDaemonOpts(port, nil); !errors.Is(err, api.ErrUsage) {
			t.Errorf("port %d: %v, want ErrUsage", port, err)
		}
	}
	if err := checkDaemonOpts(0, nil); err != nil {
		t.Errorf("port 0: %v", err)
	}
}

func TestPipeMaxSizeNeeded(t *testing.T) {
	for _, tt := range []struct{ page, want int }{{4096, 4 << 20}, {16384, 64 << 20}, {65536, 1 << 30}} {
		if got := pipeMaxSizeFor(tt.page); got != tt.want {
			t.Errorf("pipeMaxSizeFor(%d) = %d, want %d", tt.page, got, tt.want)
		}
	}
	if os.Getpagesize() == 4096 && PipeMaxSizeNeeded() != 4194304 {
		t.Errorf("PipeMaxSizeNeeded() = %d with 4 KiB pages", PipeMaxSizeNeeded())
	}
	status := "Name:\tx\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n"
	if hasEffectiveCap(status, 24) || !hasEffectiveCap(status, 21) || hasEffectiveCap("CapEff:\tzz\n", 1) {
		t.Errorf("hasEffectiveCap misreads %q", status)
	}
}

func TestCRIUErrorHint(t *testing.T) {
	e := &CRIUError{Step: "dump", Digest: "Error (criu/page-pipe.c:424): page-pipe: splice: -1: Bad file descriptor", LogPath: "/i/dump.log", Hint: "fs.pipe-max-size is 1048576"}
	want := "criu dump failed: Error (criu/page-pipe.c:424): page-pipe: splice: -1: Bad file descriptor (log: /i/dump.log); fs.pipe-max-size is 1048576"
	if e.Error() != want {
		t.Errorf("got %q\nwant %q", e, want)
	}
}
