package main

// Live migration: rt-checkpoint migrate and receive between two "hosts" on
// this machine, as test/migration makes them (docs/migration.md, "Two hosts
// on one machine"): two network namespaces joined by a veth pair with
// link-local addresses, each side's commands run with nsenter --net only
// (ip netns exec would remount /sys and with it the cgroup mounts), each
// host with its own rt root, bundle directory and cgroup parent, so the
// frozen source container and the restored one never share a cgroup.
//
// It is one more measureCRIU call: the "runtimes" are rt in each migration
// mode (stop-copy, post-copy, pre-copy; interleaved in a random order like
// the runtimes of the checkpoint table), the op list is one migrate. A
// sample is a fresh container on host A, receive on host B, migrate A→B
// (its wall time is the sample; the figures of its JSON report are
// recorded beside it), then the container deleted on B. A mode refused on
// this host (pre-copy without soft-dirty tracking) is left out of the
// section with rt's reason. runc and crun have no live migration.
//
// The hosts are made in the bench's private mount namespace (where
// /sys/fs/cgroup/unified is unmounted for crun): that works, and is what
// rt's own tests do minus that unmount. Everything they leave outside the
// process (network namespaces, the veth pair, cgroup parents, state roots,
// fs.pipe-max-size) is undone on return, failure and interrupt alike.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/checkpoint"
)

var (
	migSamples  = flag.Int("mig-n", 8, "samples per migration mode and workload")
	migPipeSize = flag.Int("mig-pipe-max-size", checkpoint.PipeMaxSizeNeeded(),
		"fs.pipe-max-size during the migration part, if larger than the host's (post-copy's lazy page server needs this much without CAP_SYS_RESOURCE); restored after")
)

// migrationModes are measured in this order in the table.
var migrationModes = []string{api.MigrateStopCopy, api.MigratePostCopy, api.MigratePreCopy}

// migPort is where receive listens on host B.
const migPort = 4711

// migHost is one "host": a network namespace (joined to the other's by the
// veth pair), and rt with its own root and cgroup parent.
type migHost struct {
	netns    string // also the cgroup parent's name
	addr     string
	veth     string
	rt       runtimeBin
	ckpt     string // rt-checkpoint beside rt
	cgParent string
}

// migration is the part's two hosts.
type migration struct {
	a, b  *migHost
	token string // the token file
	criu  string
	// made: the network namespaces and the veth made so far, to undo.
	made []string
	// pipeMax is "fs.pipe-max-size N (was M)" for the report.
	pipeMax string

	// tries counts, per mode, the migrations tried (warm-up included)
	// and keeps the failures that were tried again.
	tries map[string]*tries

	mu sync.Mutex
	rv *receiver // the receive running, killed by an interrupt
	// down removes the hosts, once.
	down func() error
}

// refusal is a migrate that failed; why is rt's message without the
// "rt-checkpoint: migrate container ID:" prefix (the n/a reason of a mode
// refused on this host), receive what receive said if the target took
// part, onA whether the container still runs on host A, as rt promises
// for failures before the switch-over.
type refusal struct {
	why, receive string
	onA          bool
}

func (r *refusal) Error() string {
	if r.receive == "" {
		return r.why
	}
	return r.why + "; receive said: " + r.receive
}

// migration measures rt's live migration of the workloads in every mode
// this host allows.
func (b *bench) migration(setup *criuSetup, work string) (res *criuResults, err error) {
	rtPath := ""
	for _, rt := range b.rts {
		if rt.name == "rt" {
			rtPath = rt.path
		}
	}
	if rtPath == "" {
		return nil, errors.New("migration: no rt")
	}
	restore, pipeMax, err := raisePipeMaxSize(*migPipeSize)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	interrupted.push(func() { restore() })
	m := &migration{criu: setup.criu, pipeMax: pipeMax, tries: map[string]*tries{}}
	m.down = sync.OnceValue(m.teardown)
	interrupted.push(func() { m.down() })
	defer func() {
		if derr := m.down(); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := m.setup(b.states, work, rtPath); err != nil {
		return nil, err
	}
	ms := *setup
	ms.rts = nil
	for _, mode := range migrationModes {
		v := m.a.rt
		v.name, v.optional = mode, mode != api.MigrateStopCopy && mode != api.MigratePostCopy
		ms.rts = append(ms.rts, v)
	}
	res, err = b.measureCRIU(&ms, "live migration A→B over a veth pair, rt only (runc and crun have no live migration)",
		setup.loads, []criuOp{{"migrate", m.migrate}}, *migSamples)
	if err != nil {
		return nil, err
	}
	res.print = m.print
	return res, nil
}

// raisePipeMaxSize raises fs.pipe-max-size to want unless it is larger
// already; restore puts the old value back (once).
func raisePipeMaxSize(want int) (restore func() error, desc string, err error) {
	const p = "/proc/sys/fs/pipe-max-size"
	old, err := os.ReadFile(p)
	if err != nil {
		return nil, "", err
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(old)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	if cur >= want {
		return func() error { return nil }, fmt.Sprintf("fs.pipe-max-size %d (unchanged)", cur), nil
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(want)), 0o644); err != nil {
		return nil, "", fmt.Errorf("raise fs.pipe-max-size for post-copy: %w", err)
	}
	restore = sync.OnceValue(func() error {
		if err := os.WriteFile(p, old, 0o644); err != nil {
			return fmt.Errorf("restore fs.pipe-max-size to %d: %w", cur, err)
		}
		return nil
	})
	return restore, fmt.Sprintf("fs.pipe-max-size %d (was %d, put back after)", want, cur), nil
}

// setup makes the two hosts: network namespaces, the veth pair between
// them, roots under states, the token. Whatever it made is in m.made for
// teardown, which runs whether setup succeeds or not.
func (m *migration) setup(states, work, rtPath string) error {
	pid := os.Getpid()
	// 169.254.<x>.0/30: link-local, never a private range a real network
	// here may use; the namespaces are the bench's own, so the subnet
	// cannot clash with another pair's.
	sub := 100 + pid%100
	ckpt := filepath.Join(filepath.Dir(rtPath), "rt-checkpoint")
	for i, side := range []string{"A", "B"} {
		name := fmt.Sprintf("rt-bench-mig%s-%d", side, pid)
		h := &migHost{
			netns: name, addr: fmt.Sprintf("169.254.%d.%d", sub, i+1),
			// at most 15 characters
			veth:     fmt.Sprintf("rtbm%s%d", side, pid),
			cgParent: "/" + name, ckpt: ckpt,
		}
		h.rt = runtimeBin{name: "rt", path: rtPath, root: filepath.Join(states, "mig"+side),
			env: append(os.Environ(), "RT_CGROUP_PARENT="+h.cgParent)}
		if i == 0 {
			m.a = h
		} else {
			m.b = h
		}
	}
	for _, h := range []*migHost{m.a, m.b} {
		if err := sh("ip", "netns", "add", h.netns); err != nil {
			return err
		}
		m.made = append(m.made, "netns "+h.netns)
	}
	if err := sh("ip", "link", "add", m.a.veth, "type", "veth", "peer", "name", m.b.veth); err != nil {
		return err
	}
	m.made = append(m.made, "link "+m.a.veth)
	for _, h := range []*migHost{m.a, m.b} {
		for _, args := range [][]string{
			{"link", "set", h.veth, "netns", h.netns},
			{"-n", h.netns, "addr", "add", h.addr + "/30", "dev", h.veth},
			{"-n", h.netns, "link", "set", h.veth, "up"},
			{"-n", h.netns, "link", "set", "lo", "up"},
		} {
			if err := sh("ip", args...); err != nil {
				return err
			}
		}
	}
	var tok [16]byte
	rand.Read(tok[:])
	m.token = filepath.Join(work, "migration-token")
	return os.WriteFile(m.token, []byte(hex.EncodeToString(tok[:])+"\n"), 0o600)
}

// teardown undoes setup and whatever a failed sample left: the receive
// running, containers in the hosts' roots, the network namespaces (and
// with them the veth pair), the cgroup parents, the roots. It says what it
// could not remove.
func (m *migration) teardown() error {
	var errs []error
	m.mu.Lock()
	if m.rv != nil {
		m.rv.stop()
	}
	m.mu.Unlock()
	for _, h := range []*migHost{m.a, m.b} {
		if h == nil {
			continue
		}
		ents, _ := os.ReadDir(h.rt.root)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if _, err := call(h.rt, "delete", "--force", e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := len(m.made) - 1; i >= 0; i-- {
		kind, name, _ := strings.Cut(m.made[i], " ")
		switch kind {
		case "netns":
			errs = append(errs, sh("ip", "netns", "del", name))
		case "link":
			// Still here only if setup failed before moving it.
			if exec.Command("ip", "link", "show", name).Run() == nil {
				errs = append(errs, sh("ip", "link", "del", name))
			}
		}
	}
	m.made = nil
	for _, h := range []*migHost{m.a, m.b} {
		if h == nil {
			continue
		}
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", h.cgParent))
		for _, d := range dirs {
			if left, _ := filepath.Glob(filepath.Join(d, "*", "cgroup.procs")); len(left) > 0 {
				errs = append(errs, fmt.Errorf("cgroups left under %s: %v", d, left))
				continue
			}
			if err := os.Remove(d); err != nil {
				errs = append(errs, fmt.Errorf("cgroup parent: %w", err))
			}
		}
		if err := os.RemoveAll(h.rt.root); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("migration hosts' teardown: %w", err)
	}
	return nil
}

// sh runs a set-up command, its output in the error.
func sh(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// checkpointCmd is rt-checkpoint on h: in its network namespace, with its
// root, cgroup parent and the bench's criu.
func (m *migration) checkpointCmd(h *migHost, args ...string) *exec.Cmd {
	full := append([]string{"--net=/run/netns/" + h.netns, "--", h.ckpt, "--root", h.rt.root, "--criu", m.criu}, args...)
	cmd := exec.Command("nsenter", full...)
	cmd.Env = h.rt.env
	return cmd
}

// receiver is a running `rt-checkpoint receive` on host B.
type receiver struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	done           chan struct{}
	err            error
}

// receive starts rt-checkpoint receive on host B, its bundles in bundles,
// and waits until it listens.
func (m *migration) receive(bundles string) (*receiver, error) {
	rv := &receiver{done: make(chan struct{})}
	var err error
	if rv.stdout, err = tempFile(); err != nil {
		return nil, err
	}
	if rv.stderr, err = tempFile(); err != nil {
		rv.stdout.Close()
		return nil, err
	}
	rv.cmd = m.checkpointCmd(m.b, "receive", "--listen", net.JoinHostPort(m.b.addr, strconv.Itoa(migPort)),
		"--bundle-dir", bundles, "--token-file", m.token, "--format", "json")
	rv.cmd.Stdout, rv.cmd.Stderr = rv.stdout, rv.stderr
	if err := rv.cmd.Start(); err != nil {
		rv.close()
		return nil, err
	}
	go func() {
		rv.err = rv.cmd.Wait()
		close(rv.done)
	}()
	m.mu.Lock()
	m.rv = rv
	m.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(rv.said(), "listening on") {
			return rv, nil
		}
		select {
		case <-rv.done:
			m.stopReceive(rv)
			err := fmt.Errorf("receive exited before listening: %v: %s", rv.err, rv.said())
			rv.close()
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
	}
	m.stopReceive(rv)
	err = fmt.Errorf("receive did not listen within 10 s: %s", rv.said())
	rv.close()
	return nil, err
}

// tempFile is an unlinked file for a command's output.
func tempFile() (*os.File, error) {
	f, err := os.CreateTemp("", "rt-bench-out-")
	if err == nil {
		os.Remove(f.Name())
	}
	return f, err
}

func readAll(f *os.File) string {
	data, _ := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return strings.TrimSpace(string(data))
}

// said is what receive wrote on stderr so far.
func (rv *receiver) said() string { return readAll(rv.stderr) }

// wait waits for receive to end by itself.
func (rv *receiver) wait(d time.Duration) error {
	select {
	case <-rv.done:
		return rv.err
	case <-time.After(d):
		return fmt.Errorf("receive did not end within %v", d)
	}
}

// stop kills receive if it still runs and waits for it.
func (rv *receiver) stop() {
	select {
	case <-rv.done:
		return
	default:
	}
	rv.cmd.Process.Kill()
	select {
	case <-rv.done:
	case <-time.After(10 * time.Second):
	}
}

func (rv *receiver) close() {
	rv.stdout.Close()
	rv.stderr.Close()
}

// stopReceive stops rv and forgets it; its output stays readable until
// rv.close.
func (m *migration) stopReceive(rv *receiver) {
	rv.stop()
	m.mu.Lock()
	if m.rv == rv {
		m.rv = nil
	}
	m.mu.Unlock()
}

// migAttempts bounds the migrations tried for one sample (post-copy
// failed in up to a fifth of the attempts on the VM rt is developed on).
const migAttempts = 5

// tries are one mode's migrations: how many were tried, and why those
// that were tried again failed.
type tries struct {
	n      int
	failed []string
}

// migrate is the op: migrateOnce, tried again (after the pause, on the
// same container) when it failed while the target took part and the
// container kept running on host A. Such failures are counted and shown
// under the table: they are rt's or CRIU's, not the bench's, and the
// figures are of the migrations that succeeded.
func (m *migration) migrate(c *criuCtx) (sample, error) {
	mode := c.rt.name
	t := m.tries[mode]
	if t == nil {
		t = &tries{}
		m.tries[mode] = t
	}
	for attempt := 1; ; attempt++ {
		t.n++
		s, err := m.migrateOnce(c)
		var r *refusal
		if err == nil || !errors.As(err, &r) || r.receive == "" || !r.onA || attempt == migAttempts {
			return s, err
		}
		t.failed = append(t.failed, errorDigest(r.Error()))
		// receive kept CRIU's logs of the failure in a directory of its
		// own: the digest is what the report shows.
		if _, after, ok := strings.Cut(r.receive, "CRIU's logs kept in "); ok {
			if dir, _, ok := strings.Cut(after, ")"); ok && strings.HasPrefix(filepath.Base(dir), "rt-receive-"+c.id+"-") {
				os.RemoveAll(dir)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: migrate %s (%s) failed, the container runs on A: trying again: %v\n", mode, c.load.name, err)
		time.Sleep(*pause)
	}
}

// errorDigest is the first "Error (…)" of CRIU's that a message quotes,
// or the message.
func errorDigest(msg string) string {
	for _, part := range strings.Split(msg, " | ") {
		if i := strings.Index(part, "Error ("); i >= 0 {
			return strings.TrimSpace(part[i:])
		}
	}
	return msg
}

// migrateOnce is one migration: receive on B, migrate c's container from
// A in the mode its variant names (timed: the sample), then check where
// it runs, record the reports' figures, and delete it on B.
func (m *migration) migrateOnce(c *criuCtx) (s sample, err error) {
	mode := c.rt.name
	rv, err := m.receive(filepath.Join(c.dir, "B"))
	if err != nil {
		return s, err
	}
	onB := m.b.rt
	defer func() {
		m.stopReceive(rv)
		rv.close()
		if _, serr := statePid(onB, c.id); serr == nil {
			if _, derr := call(onB, "delete", "--force", c.id); derr != nil && err == nil {
				err = derr
			}
		}
	}()
	out, err := tempFile()
	if err != nil {
		return s, err
	}
	defer out.Close()
	cmd := m.checkpointCmd(m.a, "migrate", c.id, "--to", net.JoinHostPort(m.b.addr, strconv.Itoa(migPort)),
		"--mode", mode, "--token-file", m.token, "--format", "json", "--work-path", c.dir)
	cmd.Stdout = out
	s, err = runTimed(cmd, "rt-checkpoint migrate")
	if err != nil {
		r := &refusal{why: err.Error()}
		var ce *callError
		if errors.As(err, &ce) {
			r.why = ce.stderr
			if _, after, ok := strings.Cut(r.why, fmt.Sprintf("migrate container %q: ", c.id)); ok {
				r.why = after
			}
		}
		// A receive that took part ends by itself after a failed
		// attempt, saying why; one the source never reached (a mode
		// refused here) would wait for good.
		rv.wait(5 * time.Second)
		m.stopReceive(rv)
		if said := rv.said(); !strings.HasSuffix(said, "listening on "+net.JoinHostPort(m.b.addr, strconv.Itoa(migPort))) {
			r.receive = said
		}
		st, serr := state(c.rt, c.id)
		if r.onA = serr == nil && st == "running"; !r.onA {
			return s, fmt.Errorf("%w; and the container does not run on host A any more (%s, %v)", r, st, serr)
		}
		return s, r
	}
	if err := rv.wait(2 * time.Minute); err != nil {
		return s, fmt.Errorf("receive: %w: %s", err, rv.said())
	}
	var src, dst api.MigrationReport
	if err := json.Unmarshal([]byte(readAll(out)), &src); err != nil {
		return s, fmt.Errorf("migrate's report: %w: %q", err, readAll(out))
	}
	if err := json.Unmarshal([]byte(readAll(rv.stdout)), &dst); err != nil {
		return s, fmt.Errorf("receive's report: %w: %q", err, readAll(rv.stdout))
	}
	if *criuVerbose && c.res != nil {
		fmt.Fprintf(os.Stderr, "migrate %s %s: %s\nreceive: %s\n", mode, c.load.name, readAll(out), readAll(rv.stdout))
	}
	if src.Mode != mode || src.DowntimeUs <= 0 || src.FrozenUs <= 0 || src.TotalUs < src.DowntimeUs {
		return s, fmt.Errorf("migrate's report lacks figures: %+v", src)
	}
	if st, err := state(onB, c.id); err != nil || st != "running" {
		return s, fmt.Errorf("after migrate: not running on host B: %s, %v", st, err)
	}
	if _, err := statePid(c.rt, c.id); err == nil {
		return s, errors.New("after migrate: the container is still on host A")
	}
	pid, err := statePid(onB, c.id)
	if err != nil {
		return s, err
	}
	anon, err := rssAnon(pid)
	if err != nil {
		return s, err
	}
	m.record(c, &src, &dst)
	c.measure("init RssAnon on B", anon)
	return s, nil
}

// The phases that make up the downtime: the source's after the freeze,
// then the target's restore; the rest is messages, the target's page
// server (stop-copy) or lazy-pages daemon (post-copy) starting, and the
// page server's exit.
var downtimePhases = []string{"A rootfs (frozen)", "A memory", "A dump (lazy)", "A images", "B restore"}

// record keeps a sample's figures from the two reports: times in µs, the
// rest in bytes. Phases are "A <phase>" (migrate's) and "B <phase>"
// (receive's), a repeated name numbered.
func (m *migration) record(c *criuCtx, src, dst *api.MigrationReport) {
	c.measure("downtime", src.DowntimeUs)
	c.measure("dump (frozen)", src.FrozenUs)
	c.measure("total", src.TotalUs)
	c.measure("rootfs sent", src.RootfsBytes)
	c.measure("images sent", src.ImageBytes)
	c.measure("memory sent", src.MemoryBytes)
	c.measure("after switch-over", src.LazyBytes)
	phases := map[string]int64{}
	for _, side := range []struct {
		name string
		rep  *api.MigrationReport
	}{{"A", src}, {"B", dst}} {
		seen := map[string]int{}
		for _, p := range side.rep.Phases {
			name := side.name + " " + p.Phase
			if seen[name]++; seen[name] > 1 {
				name = fmt.Sprintf("%s #%d", name, seen[name])
			}
			phases[name] = p.Duration.Microseconds()
			c.measure(name, p.Duration.Microseconds())
		}
	}
	rest := src.DowntimeUs
	for _, p := range downtimePhases {
		rest -= phases[p]
	}
	c.measure("rest of downtime", rest)
	if d := src.Dump; d != nil && c.rt.name == api.MigrateStopCopy {
		c.measure("A criu memdump", int64(d.MemdumpTimeUs))
		c.measure("A criu memwrite", int64(d.MemwriteTimeUs))
	}
	if r := src.Restore; r != nil {
		c.measure("B criu restore", int64(r.RestoreTimeUs))
	}
}

// state is the status of container id, an error if there is none.
func state(rt runtimeBin, id string) (string, error) {
	cmd := exec.Command(rt.path, "--root", rt.root, "state", id)
	cmd.Env = rt.env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s state %s: %w", rt.name, id, err)
	}
	var st struct{ Status string }
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("%s state %s: %w", rt.name, id, err)
	}
	return st.Status, nil
}

// print is the migration section: per workload and mode the downtime,
// the dump's part of it and the total as migrate reports them, and the
// wall time of migrate; a mode refused here as "n/a: why"; the ratio of
// post-copy's downtime to stop-copy's; where the downtime goes.
func (m *migration) print(r *criuResults) {
	fmt.Println(r.title)
	fmt.Printf("hosts: two network namespaces, veth %s/30 ↔ %s/30, each its own rt root, bundle dir (in the tmpfs) and cgroup parent; %s\n",
		m.a.addr, m.b.addr, m.pipeMax)
	fmt.Println("medians unless p90; downtime, dump (frozen) and total are migrate's report's (downtimeUs, frozenUs, totalUs), wall is the migrate command's")
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "workload\tmode\tdowntime\tp90\tdump (frozen)\ttotal\tmigrate wall\tp90\tpeak RSS\tmemory sent\tafter switch-over\t")
	for _, l := range r.loads {
		for _, rt := range r.rts {
			k := func(kind string) []int64 { return r.measures[criuKey{kind, l, rt.name}] }
			s := r.samples[criuKey{"migrate", l, rt.name}]
			down, dump := medianInt(k("downtime")), medianInt(k("dump (frozen)"))
			share := ""
			if down > 0 {
				share = fmt.Sprintf(" (%.0f%%)", 100*float64(dump)/float64(down))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t%s\t%d KiB\t%s\t%s\t\n", l, rt.name,
				usStr(down), usStr(p90Int(k("downtime"))), usStr(dump), share, usStr(medianInt(k("total"))),
				ms(median(s)), ms(p90(s)), peakRSS(s), bytesStr(medianInt(k("memory sent"))), bytesStr(medianInt(k("after switch-over"))))
		}
	}
	// Last, as the column layout of the rows above ends with them.
	for _, mode := range migrationModes {
		if why, ok := r.excluded[mode]; ok {
			fmt.Fprintf(w, "all\t%s\t  n/a: %s\n", mode, why)
		}
	}
	w.Flush()
	fmt.Println()
	notes := false
	for _, l := range r.loads {
		for _, rt := range r.rts {
			k := func(kind string) int64 { return medianInt(r.measures[criuKey{kind, l, rt.name}]) }
			if k("memory sent") == 0 && k("init RssAnon on B") > 0 {
				fmt.Printf("%s, %s: migrate reports no memory sent, yet init's RssAnon on B after it is %s (%s on A before)\n",
					l, rt.name, bytesStr(k("init RssAnon on B")), bytesStr(k("init RssAnon")))
				notes = true
			}
		}
	}
	if notes {
		fmt.Println()
	}
	var ratios []string
	verdict := ""
	for _, l := range r.loads {
		stop := medianInt(r.measures[criuKey{"downtime", l, api.MigrateStopCopy}])
		post := medianInt(r.measures[criuKey{"downtime", l, api.MigratePostCopy}])
		if stop == 0 || post == 0 {
			continue
		}
		ratio := float64(post) / float64(stop)
		ratios = append(ratios, fmt.Sprintf("%s %.2f", l, ratio))
		if l == fmt.Sprintf("%d MiB", memoryMiB) {
			verdict = "met"
			if ratio > 0.2 {
				verdict = "not met"
			}
			verdict = fmt.Sprintf("; target for %s, at most 0.20: %s", l, verdict)
		}
	}
	fmt.Printf("post-copy/stop-copy downtime (medians): %s%s\n\n", strings.Join(ratios, ", "), verdict)
	for _, mode := range migrationModes {
		if t := m.tries[mode]; t != nil && len(t.failed) > 0 {
			var why []string
			count := map[string]int{}
			for _, f := range t.failed {
				if count[f]++; count[f] == 1 {
					why = append(why, f)
				}
			}
			for i, f := range why {
				why[i] = fmt.Sprintf("%d× %s", count[f], f)
			}
			fmt.Printf("%s: %d of %d migrations (warm-up included) failed before the switch-over, the container running on A, and were tried again: %s\n\n",
				mode, len(t.failed), t.n, strings.Join(why, "; "))
		}
	}
	fmt.Println("where the downtime goes (medians; A: migrate's phases after the freeze, B: receive's restore, rest: the difference per sample):")
	for _, l := range r.loads {
		for _, rt := range r.rts {
			var parts []string
			for _, p := range append(downtimePhases, "rest of downtime") {
				if v := r.measures[criuKey{p, l, rt.name}]; len(v) > 0 {
					parts = append(parts, fmt.Sprintf("%s %s", p, usStr(medianInt(v))))
				}
			}
			for _, p := range []string{"A criu memdump", "A criu memwrite", "B criu restore"} {
				if v := r.measures[criuKey{p, l, rt.name}]; len(v) > 0 {
					parts = append(parts, fmt.Sprintf("%s %s", p, usStr(medianInt(v))))
				}
			}
			fmt.Printf("  %s, %s: downtime %s = %s\n", l, rt.name, usStr(medianInt(r.measures[criuKey{"downtime", l, rt.name}])), strings.Join(parts, ", "))
		}
	}
	fmt.Println()
	fmt.Println("phases (medians) and bytes:")
	for _, l := range r.loads {
		for _, rt := range r.rts {
			var parts []string
			for _, kind := range r.kinds {
				v := r.measures[criuKey{kind, l, rt.name}]
				if len(v) == 0 || kind == "downtime" || kind == "dump (frozen)" || kind == "total" {
					continue
				}
				if strings.HasPrefix(kind, "A ") || strings.HasPrefix(kind, "B ") || kind == "rest of downtime" {
					parts = append(parts, kind+" "+usStr(medianInt(v)))
				} else {
					parts = append(parts, kind+" "+bytesStr(medianInt(v)))
				}
			}
			fmt.Printf("  %s, %s: %s\n", l, rt.name, strings.Join(parts, ", "))
		}
	}
}

// usStr is µs as milliseconds.
func usStr(us int64) string { return fmt.Sprintf("%.1f ms", float64(us)/1000) }

// p90Int is the nearest-rank 90th percentile.
func p90Int(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[(len(v)*9+9)/10-1]
}
