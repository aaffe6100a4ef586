package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
)

var recTLS = &api.PageServerTLS{CACert: "/t/ca.pem", Cert: "/t/c.pem", Key: "/t/k.pem"}

// TestPageServerFlags checks rt-checkpoint page-server's options, and that
// only --port 0 prints anything: the port chosen.
func TestPageServerFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   api.PageServerOpts
		stdout string
	}{
		{"fixed port", []string{"page-server", "--image-path", "/img", "--port", "27000"},
			api.PageServerOpts{ImagePath: "/img", Port: 27000}, ""},
		{"port 0 printed", []string{"page-server", "--image-path", "/img", "--port", "0", "--address", "127.0.0.1", "--work-path", "/w"},
			api.PageServerOpts{ImagePath: "/img", WorkPath: "/w", Address: "127.0.0.1"}, "41234\n"},
		{"tls", []string{"page-server", "--image-path", "/img", "--port=1", "--tls-cacert", "/t/ca.pem", "--tls-cert", "/t/c.pem", "--tls-key", "/t/k.pem"},
			api.PageServerOpts{ImagePath: "/img", Port: 1, TLS: recTLS}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			f.listenPort = 41234
			out := recCkpt(t, f, tt.args...)
			out.wantExit(t, 0)
			if got := f.onlyCall(t, "PageServer").Opts.(api.PageServerOpts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %+v\nwant   %+v", got, tt.want)
			}
			if out.stdout != tt.stdout || out.stderr != "" {
				t.Errorf("stdout %q stderr %q, want stdout %q and nothing on stderr", out.stdout, out.stderr, tt.stdout)
			}
		})
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no image path", []string{"--port", "1"}, "--image-path is required"},
		{"no port", []string{"--image-path", "/img"}, "--port is required"},
		{"port range", []string{"--image-path", "/img", "--port", "65536"}, "--port 65536: not a TCP port"},
		{"negative port", []string{"--image-path", "/img", "--port", "-1"}, "--port -1: not a TCP port"},
		{"tls partial", []string{"--image-path", "/img", "--port", "1", "--tls-cert", "/c"}, "--tls-cacert, --tls-cert and --tls-key go together"},
		{"argument", []string{"--image-path", "/img", "--port", "1", "c1"}, "takes no arguments"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, append([]string{"page-server"}, tt.args...)...)
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.HasPrefix(line, "rt-checkpoint: page-server: ") || !strings.Contains(line, tt.want) ||
				!strings.HasSuffix(line, "see 'rt-checkpoint page-server --help'") {
				t.Errorf("stderr = %q, want a page-server usage line containing %q", line, tt.want)
			}
			f.noCalls(t)
		})
	}
}

// TestLazyPagesFlags checks rt-checkpoint lazy-pages's options: the page
// server's address, port and TLS only with --page-server.
func TestLazyPagesFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want api.LazyPagesOpts
	}{
		{"local pages", []string{"lazy-pages", "--image-path", "/img"}, api.LazyPagesOpts{ImagePath: "/img"}},
		{"page server", []string{"lazy-pages", "--image-path", "/img", "--work-path", "/w", "--page-server", "--address", "10.0.0.1", "--port", "27000"},
			api.LazyPagesOpts{ImagePath: "/img", WorkPath: "/w", Address: "10.0.0.1", Port: 27000}},
		{"tls", []string{"lazy-pages", "--image-path", "/img", "--page-server", "--address", "::1", "--port", "1", "--tls-cacert", "/t/ca.pem", "--tls-cert", "/t/c.pem", "--tls-key", "/t/k.pem"},
			api.LazyPagesOpts{ImagePath: "/img", Address: "::1", Port: 1, TLS: recTLS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, tt.args...)
			out.wantExit(t, 0)
			if got := f.onlyCall(t, "LazyPages").Opts.(api.LazyPagesOpts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %+v\nwant   %+v", got, tt.want)
			}
			if out.stdout != "" || out.stderr != "" {
				t.Errorf("stdout %q stderr %q, want nothing", out.stdout, out.stderr)
			}
		})
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no image path", nil, "--image-path is required"},
		{"address without page-server", []string{"--image-path", "/img", "--address", "h"}, "--address needs --page-server"},
		{"port without page-server", []string{"--image-path", "/img", "--port", "1"}, "--port needs --page-server"},
		{"tls without page-server", []string{"--image-path", "/img", "--tls-cacert", "a", "--tls-cert", "b", "--tls-key", "c"}, "--tls-cacert needs --page-server"},
		{"page-server without address", []string{"--image-path", "/img", "--page-server", "--port", "1"}, "--page-server needs --address"},
		{"page-server without port", []string{"--image-path", "/img", "--page-server", "--address", "h"}, "--page-server needs --port (1-65535), got 0"},
		{"tls partial", []string{"--image-path", "/img", "--page-server", "--address", "h", "--port", "1", "--tls-key", "k"}, "go together"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, append([]string{"lazy-pages"}, tt.args...)...)
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.HasPrefix(line, "rt-checkpoint: lazy-pages: ") || !strings.Contains(line, tt.want) {
				t.Errorf("stderr = %q, want a lazy-pages usage line containing %q", line, tt.want)
			}
			f.noCalls(t)
		})
	}
}

// TestDaemonFailures: the runtime's error is one line and exit 1; a
// runtime without api.PageServerRunner says not implemented.
func TestDaemonFailures(t *testing.T) {
	for _, cmd := range [][]string{
		{"page-server", "--image-path", "/img", "--port", "0"},
		{"lazy-pages", "--image-path", "/img"},
	} {
		t.Run(cmd[0]+"/error", func(t *testing.T) {
			f := newRecFake()
			f.daemonRun = func(context.Context) error {
				return errors.New("criu " + cmd[0] + " failed: exit status 1: Error (x.c:1): boom\nsecond line")
			}
			out := recCkpt(t, f, cmd...)
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); line != "rt-checkpoint: criu "+cmd[0]+" failed: exit status 1: Error (x.c:1): boom; second line" {
				t.Errorf("stderr = %q", line)
			}
		})
		t.Run(cmd[0]+"/not-implemented", func(t *testing.T) {
			recIsolate(t)
			f := newRecFake()
			prog := recCkptProgram(func(cfg api.GlobalConfig) (api.ContainerOperations, error) {
				_, _ = f.factory(cfg)
				return onlyOps{f}, nil
			})
			out := recMain(t, prog, "", append([]string{"--root", t.TempDir()}, cmd...)...)
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); line != "rt-checkpoint: "+cmd[0]+": not implemented" {
				t.Errorf("stderr = %q", line)
			}
		})
	}
}

// TestDaemonSignal: SIGTERM (or SIGINT) ends the daemon's context, whose
// cause names the signal. The fake sends the signal to the test process
// itself once the command caught it.
func TestDaemonSignal(t *testing.T) {
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			f := newRecFake()
			f.daemonRun = func(ctx context.Context) error {
				if err := unix.Kill(os.Getpid(), sig); err != nil {
					return err
				}
				<-ctx.Done()
				return fmt.Errorf("criu lazy-pages (pid 7) killed: %w", context.Cause(ctx))
			}
			out := recCkpt(t, f, "lazy-pages", "--image-path", "/img")
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); line != "rt-checkpoint: criu lazy-pages (pid 7) killed: "+unix.SignalName(sig)+" received" {
				t.Errorf("stderr = %q", line)
			}
		})
	}
}

// TestCheckpointTLSFlags: checkpoint's TLS files go with --page-server.
func TestCheckpointTLSFlags(t *testing.T) {
	f := newRecFake()
	recCkpt(t, f, "checkpoint", "--image-path", "/img", "--page-server", "10.0.0.1:27000",
		"--tls-cacert", "/t/ca.pem", "--tls-cert", "/t/c.pem", "--tls-key", "/t/k.pem", "c1").wantExit(t, 0)
	got := f.onlyCall(t, "Checkpoint").Opts.(api.CheckpointOpts).PageServer
	if want := (api.PageServer{Address: "10.0.0.1", Port: 27000, TLS: recTLS}); !reflect.DeepEqual(got, want) {
		t.Errorf("page server %+v, want %+v", got, want)
	}
	for name, args := range map[string][]string{
		"without page-server": {"--tls-cacert", "a", "--tls-cert", "b", "--tls-key", "c"},
		"partial":             {"--page-server", "h:1", "--tls-cacert", "a"},
	} {
		t.Run("bad/"+name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, append(append([]string{"checkpoint", "--image-path", "/img"}, args...), "c1")...)
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); !strings.HasPrefix(line, "rt-checkpoint: checkpoint: --tls-") {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
	}
}
