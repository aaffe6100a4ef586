package checkpoint_test

// rt-checkpoint page-server and lazy-pages, driven as a live migration
// drives them: a page server receives a dump's pages and the restore runs
// from its directory; a --lazy-pages dump serves its pages to a lazy-pages
// daemon feeding a lazy restore; and their failures are one line.

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

func TestPageServerRoundTrip(t *testing.T) {
	requireCRIU(t)
	server, client := makeTLS(t)
	for _, tt := range []struct {
		name           string
		server, client []string
	}{{"plain", nil, nil}, {"tls", server.flags(), client.flags()}} {
		t.Run(tt.name, func(t *testing.T) {
			c := startCounter(t, counter)
			received := filepath.Join(t.TempDir(), "received") // the page server makes it
			images := filepath.Join(t.TempDir(), "images")
			ps := daemon(t, c.r, append([]string{"page-server", "--image-path", received, "--address", "127.0.0.1", "--port", "0"}, tt.server...)...)
			port := ps.port(t)
			if fi, err := os.Stat(received); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("the page server's image dir: %v, %v, want a 0700 directory", fi, err)
			}
			before := c.waitCount(t, 3)
			args := append([]string{"checkpoint", "--page-server", "127.0.0.1:" + port, "--image-path", images}, tt.client...)
			if res := c.r.RT(append(args, c.id)...); res.Code != 0 {
				t.Fatalf("checkpoint: %s", res)
			}
			// It exits after the dump's connection, having printed the
			// port and nothing else.
			if res := ps.wait(t); res.Code != 0 || res.Stdout != port+"\n" || res.Stderr != "" {
				t.Fatalf("page-server: %s", res)
			}
			if pageFiles(received) == 0 || pageFiles(images) != 0 {
				t.Fatalf("pages: %d files on the page server, %d with the dump; want them all on the server", pageFiles(received), pageFiles(images))
			}
			if tt.server != nil && !strings.Contains(readFile(filepath.Join(received, "page-server.log")), "TLS handshake completed") {
				t.Errorf("page-server.log says no TLS handshake")
			}
			copyMissing(t, images, received)
			if res := c.r.RT("restore", "-d", "--image-path", received, "--bundle", c.bundle, c.id); res.Code != 0 {
				t.Fatalf("restore from the page server's directory: %s", res)
			}
			if after := c.count(t); after < before {
				t.Errorf("restored counter at %d, was %d at checkpoint", after, before)
			}
			c.waitCount(t, c.count(t)+2)
			stopAndDelete(t, c)
		})
	}
}

// lazyMigration is a lazy migration of c on this host: a --lazy-pages dump
// serving its pages on a port, its images copied to another directory, a
// lazy-pages daemon there fetching from the dump, and a lazy restore
// under the id rid (c, frozen, exists until the dump is over).
type lazyMigration struct {
	checkpoint, daemon *bg
	restore            harness.Result
	rid                string
}

func migrateLazily(t *testing.T, c *container) *lazyMigration {
	t.Helper()
	port := freePort(t)
	images, dest := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	statusR, statusW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer statusR.Close()
	cmd := c.r.Command("checkpoint", "--lazy-pages", "--page-server", "127.0.0.1:"+port, "--status-fd", "3", "--image-path", images, c.id)
	cmd.ExtraFiles = []*os.File{statusW}
	m := &lazyMigration{checkpoint: startBG(t, cmd), rid: harness.ID("lazy")}
	statusW.Close()
	statusR.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadFull(statusR, make([]byte, 1)); err != nil {
		t.Fatalf("the lazy dump did not say it was ready (%v): %s", err, m.checkpoint.wait(t))
	}
	copyMissing(t, images, dest)
	m.daemon = daemon(t, c.r, "lazy-pages", "--image-path", dest, "--page-server", "--address", "127.0.0.1", "--port", port)
	sock := filepath.Join(dest, "lazy-pages.socket")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-m.daemon.done:
			t.Fatalf("lazy-pages exited before it made its socket: %s", m.daemon.res)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("lazy-pages made no %s within 30 s", sock)
		}
	}
	m.restore = c.r.RT("restore", "-d", "--lazy-pages", "--image-path", dest, "--bundle", c.bundle, m.rid)
	return m
}

func TestLazyPagesMigration(t *testing.T) {
	requireCRIU(t)
	raisePipeMaxSize(t)
	c := startCounter(t, counter)
	before := c.waitCount(t, 3)
	m := migrateLazily(t, c)
	rc := &container{r: c.r, id: m.rid, bundle: c.bundle, data: c.data}
	if m.restore.Code != 0 {
		t.Fatalf("restore --lazy-pages: %s", m.restore)
	}
	if res := m.daemon.wait(t); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Errorf("lazy-pages: %s", res)
	}
	if res := m.checkpoint.wait(t); res.Code != 0 || strings.Contains(res.Stderr, "pipe-max-size") {
		t.Errorf("checkpoint --lazy-pages: %s", res)
	}
	if _, ok := c.state(t); ok {
		t.Errorf("the source container %s still exists after the lazy dump", c.id)
	}
	if after := rc.count(t); after < before {
		t.Errorf("restored counter at %d, was %d at checkpoint", after, before)
	}
	rc.waitCount(t, rc.count(t)+2)
	stopAndDelete(t, rc)
	c.r.AssertNoTrace(t, rc.id, c.bundle)
}

// TestLazyPagesPipeMaxSizeTooSmall: without CAP_SYS_RESOURCE and with the
// default fs.pipe-max-size (1 MiB), the dump's page server fails at the
// first pages asked for. Checkpoint warns before, and says why after.
func TestLazyPagesPipeMaxSizeTooSmall(t *testing.T) {
	requireCRIU(t)
	if hasCapSysResource(t) {
		t.Skip("criu has CAP_SYS_RESOURCE on this host: fs.pipe-max-size does not limit its pipes, nothing fails")
	}
	setPipeMaxSize(t, 1<<20, func(cur, want int) bool { return cur != want })
	c := startCounter(t, counter)
	c.r.Env = append(os.Environ(), "RT_CRIU_PROGRESS_TIMEOUT=5s")
	m := migrateLazily(t, c)
	hint := "fs.pipe-max-size is 1048576, below the 4194304 that CRIU's lazy page server needs without CAP_SYS_RESOURCE (sysctl -w fs.pipe-max-size=4194304)"
	ck := m.checkpoint.wait(t)
	if ck.Code == 0 || !strings.Contains(ck.Stderr, "level=warning msg=\"checkpoint --lazy-pages: the pages will fail to transfer") {
		t.Errorf("checkpoint: %s, want a warning and a failure", ck)
	}
	if !strings.Contains(ck.Stderr, "page-pipe: splice: -1: Bad file descriptor") || !strings.Contains(ck.Stderr, "(log: ") ||
		!strings.HasSuffix(strings.TrimSpace(ck.Stderr), hint) {
		t.Errorf("checkpoint's error does not say why: %q", ck.Stderr)
	}
	if res := m.daemon.wait(t); res.Code == 0 || !strings.Contains(res.Stderr, "page-xfer: Remote side closed connection") ||
		!strings.Contains(res.Stderr, "if the dump serving the pages") {
		t.Errorf("lazy-pages: %s", res)
	}
	if m.restore.Code == 0 {
		// CRIU may resume the restored tree before the daemon asks for
		// the pages (seen once in CI, the whole test in 0.7 s): the
		// restore has then succeeded, and what the process finds where
		// its pages should be is CRIU's business. It must still go.
		t.Logf("restore succeeded before the pages failed: %s", m.restore)
		if res := c.r.RT("delete", "--force", m.rid); res.Code != 0 {
			t.Errorf("delete --force of the restored container: %s", res)
		}
	} else {
		t.Logf("restore: %s", oneLine(t, m.restore))
	}
	c.assertRunningThawed(t)
	c.r.AssertNoTrace(t, m.rid, "")
}

func TestDaemonErrors(t *testing.T) {
	requireCRIU(t)
	r := harness.NewRunner(t)
	t.Run("page-server port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dir := filepath.Join(t.TempDir(), "img")
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		res := r.Exec(r.Bins.Checkpoint, "--root", r.Root, "page-server", "--image-path", dir, "--address", "127.0.0.1", "--port", port)
		msg := oneLine(t, res)
		want := "rt-checkpoint: criu page-server failed: "
		if res.Code != 1 || res.Stdout != "" || !strings.HasPrefix(msg, want) || !strings.Contains(msg, "Can't bind page server: Address already in use") ||
			!strings.HasSuffix(msg, "(log: "+filepath.Join(dir, "page-server.log")+")") {
			t.Errorf("page-server on a port in use: %s", res)
		}
	})
	t.Run("lazy-pages on an empty dir", func(t *testing.T) {
		dir := t.TempDir()
		res := r.Exec(r.Bins.Checkpoint, "--root", r.Root, "lazy-pages", "--image-path", dir)
		if want := "rt-checkpoint: lazy-pages: image path " + dir + " holds no checkpoint (no inventory.img): "; res.Code != 1 || !strings.HasPrefix(oneLine(t, res), want) {
			t.Errorf("lazy-pages on an empty dir: %s, want %q…", res, want)
		}
	})
	t.Run("lazy-pages on a damaged image", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "inventory.img"), nil, 0o600)
		os.WriteFile(filepath.Join(dir, "pstree.img"), nil, 0o600)
		res := r.Exec(r.Bins.Checkpoint, "--root", r.Root, "lazy-pages", "--image-path", dir)
		msg := oneLine(t, res)
		if res.Code != 1 || !strings.HasPrefix(msg, "rt-checkpoint: criu lazy-pages failed: exit status 1: ") || !strings.Contains(msg, "Error (") ||
			!strings.HasSuffix(msg, "(log: "+filepath.Join(dir, "lazy-pages.log")+")") {
			t.Errorf("lazy-pages on a damaged image: %s", res)
		}
	})
	t.Run("page-server with TLS, dump without", func(t *testing.T) {
		server, _ := makeTLS(t)
		c := startCounter(t, counter)
		dir := filepath.Join(t.TempDir(), "img")
		ps := daemon(t, c.r, append([]string{"page-server", "--image-path", dir, "--address", "127.0.0.1", "--port", "0"}, server.flags()...)...)
		port := ps.port(t)
		// A TLS file that cannot be read is refused before anything is
		// frozen (and the page server still waits for a dump).
		res := c.r.RT("checkpoint", "--page-server", "127.0.0.1:"+port, "--image-path", t.TempDir(),
			"--tls-cacert", server.caCert, "--tls-cert", server.cert, "--tls-key", "/nonexistent/k.pem", c.id)
		if want := `checkpoint container "` + c.id + `": page server TLS key: open /nonexistent/k.pem: no such file or directory`; res.Code != 1 || !strings.HasSuffix(oneLine(t, res), want) {
			t.Errorf("checkpoint with a missing TLS key: %s, want …%q", res, want)
		}
		if res := c.r.RT("checkpoint", "--page-server", "127.0.0.1:"+port, "--image-path", t.TempDir(), c.id); res.Code == 0 {
			t.Errorf("a plain dump to a TLS page server succeeded")
		}
		res = ps.wait(t)
		if msg := oneLine(t, res); res.Code != 1 || !strings.Contains(msg, "criu page-server failed: exit status 255: ") || !strings.Contains(msg, "TLS handshake failed") {
			t.Errorf("page-server: %s", res)
		}
		c.assertRunningThawed(t)
	})
	t.Run("page-server SIGINT", func(t *testing.T) {
		ps := daemon(t, r, "page-server", "--image-path", filepath.Join(t.TempDir(), "img"), "--address", "127.0.0.1", "--port", "0")
		port := ps.port(t)
		ps.cmd.Process.Signal(os.Interrupt)
		res := ps.wait(t)
		if msg := oneLine(t, res); res.Code != 1 || !strings.HasPrefix(msg, "rt-checkpoint: criu page-server (pid ") || !strings.HasSuffix(msg, " killed: SIGINT received") {
			t.Errorf("page-server after SIGINT: %s", res)
		}
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			conn.Close()
			t.Errorf("something still listens on the page server's port %s", port)
		}
	})
}
