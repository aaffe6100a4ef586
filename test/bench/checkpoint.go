package main

// Checkpoint and restore with CRIU, beside runc with the same criu binary.
//
// The part is built so that other CRIU measurements (migration downtime,
// stop-copy against post-copy: migration.go) are a new list of criuOp passed to
// measureCRIU, which gives a section of the report: a sample is a fresh container of a workload, started for one
// runtime, on which the ops run in order, each after the pause; the
// container and the sample's directory are removed after. An op times what
// it means (one command, or a downtime spanning several) and may record
// other figures (image sizes) with criuCtx.measure.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	criuSamples = flag.Int("ckpt-n", 8, "samples per checkpoint/restore operation, workload and runtime")
	criuFlag    = flag.String("criu", "criu", "criu binary given to every runtime (--criu)")
	criuVerbose = flag.Bool("ckpt-v", false, "print every checkpoint and migration sample on stderr as it is taken (a migration's with its two JSON reports)")
	imagesFlag  = flag.String("ckpt-images", "", "directory for checkpoint images (default: a tmpfs mounted in the bench's private mount namespace)")
)

// memoryMiB is the anonymous memory the memory workload touches.
const memoryMiB = 256

// workload is a container that ops act on.
type workload struct {
	name   string
	bundle string
	// ready says whether the container, whose init is pid, is ready to
	// be measured.
	ready func(pid int) (bool, error)
}

// criuCtx is one sample: a container of a workload started for a runtime.
type criuCtx struct {
	rt   runtimeBin
	load *workload
	id   string
	// dir is the sample's own directory, removed after it; images is
	// dir/images, not created (the runtimes create it).
	dir, images string
	res         *criuResults // nil for a probe: nothing is recorded
}

// criuOp is one step of a sample. do performs it once (the pause is the
// caller's) and returns its time.
type criuOp struct {
	name string
	do   func(c *criuCtx) (sample, error)
}

// measure records a figure other than a time (bytes, pages) under kind.
func (c *criuCtx) measure(kind string, v int64) {
	if c.res == nil {
		return
	}
	k := criuKey{kind, c.load.name, c.rt.name}
	if !slices.Contains(c.res.kinds, kind) {
		c.res.kinds = append(c.res.kinds, kind)
	}
	c.res.measures[k] = append(c.res.measures[k], v)
}

// criuCall runs a runtime command with the bench's criu. crun has no
// --criu: one built with CRIU runs libcriu's default, criu on PATH.
func criuCall(rt runtimeBin, args ...string) (sample, error) {
	if rt.name == "crun" {
		return call(rt, args...)
	}
	return call(rt, append([]string{"--criu", *criuFlag}, args...)...)
}

// checkpointRestoreOps: checkpoint, which removes the container as runc
// does, then restore -d from the images. The sample's teardown deletes the
// restored container.
func checkpointRestoreOps() []criuOp {
	return []criuOp{
		{"checkpoint", func(c *criuCtx) (sample, error) {
			s, err := criuCall(c.rt, "checkpoint", "--image-path", c.images, c.id)
			if err != nil {
				return s, err
			}
			if _, err := statePid(c.rt, c.id); err == nil {
				return s, fmt.Errorf("%s checkpoint %s: the container still exists", c.rt.name, c.id)
			}
			total, pages, err := imageSize(c.images)
			c.measure("image", total)
			c.measure("of which pages-*.img", pages)
			return s, err
		}},
		{"restore -d", func(c *criuCtx) (sample, error) {
			s, err := criuCall(c.rt, "restore", "-d", "--image-path", c.images, "--bundle", c.load.bundle, c.id)
			if err != nil {
				return s, err
			}
			pid, err := statePid(c.rt, c.id)
			if err != nil {
				return s, fmt.Errorf("after restore: %w", err)
			}
			anon, err := rssAnon(pid)
			c.measure("init RssAnon after restore", anon)
			return s, err
		}},
	}
}

// criuKey names a cell: an op (or a measure's kind), a workload, a runtime.
type criuKey struct{ op, load, rt string }

type criuResults struct {
	title    string
	rts      []runtimeBin
	loads    []string
	ops      []string
	samples  map[criuKey][]sample
	measures map[criuKey][]int64
	kinds    []string // of measures, in the order first recorded
	// excluded gives, for a runtime left out, why.
	excluded map[string]string
	// print, when set, prints the section instead of the checkpoint
	// table (report).
	print func(*criuResults)
}

// criuSetup is what every CRIU measurement shares: the criu binary, where
// the samples' directories go, and the workloads.
type criuSetup struct {
	criu, version string
	dir           string
	loads         []*workload
	// rts are the runtimes measureCRIU samples, nil for the bench's
	// (migration samples variants of rt, one per mode).
	rts []runtimeBin
}

// withCRIU runs the CRIU parts the -only flag asks for: checkpoint and
// restore of the two workloads for every runtime that can checkpoint on
// this host, then rt's live migration of them (migration.go).
func (b *bench) withCRIU(work string) ([]*criuResults, error) {
	setup, done, err := b.setupCRIU(work)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []*criuResults
	if *only != "migration" {
		res, err := b.measureCRIU(setup, "checkpoint and restore", setup.loads, checkpointRestoreOps(), *criuSamples)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	if *only != "checkpoint" {
		res, err := b.migration(setup, work)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// setupCRIU finds criu (given to every runtime as --criu), mounts the
// tmpfs for the images unless -ckpt-images says where, and writes the
// workloads' bundles. done unmounts.
func (b *bench) setupCRIU(work string) (*criuSetup, func(), error) {
	s := &criuSetup{dir: *imagesFlag}
	done := func() {}
	criu, err := exec.LookPath(*criuFlag)
	if err != nil {
		return nil, done, fmt.Errorf("criu: %w", err)
	}
	if s.criu, err = filepath.Abs(criu); err != nil {
		return nil, done, err
	}
	*criuFlag = s.criu
	version, _ := exec.Command(s.criu, "--version").Output()
	s.version = strings.TrimPrefix(strings.TrimSpace(firstLine(string(version))), "Version: ")
	if s.dir == "" {
		// A tmpfs of the bench's own mount namespace: the images' writes
		// and reads are not the disk's, and it goes with the namespace.
		s.dir = filepath.Join(work, "images")
		if err := os.Mkdir(s.dir, 0o700); err != nil {
			return nil, done, err
		}
		if err := syscall.Mount("tmpfs", s.dir, "tmpfs", 0, "mode=0700,size=2g"); err != nil {
			return nil, done, fmt.Errorf("tmpfs for the images: %w", err)
		}
		done = func() { syscall.Unmount(s.dir, syscall.MNT_DETACH) }
	}
	counter, err := makeBundle(filepath.Join(work, "counter"), "sh", "-c",
		`exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); sleep 0.05; done`)
	if err != nil {
		return nil, done, err
	}
	// busybox has no stress tool: the shell holds the output of a command
	// substitution in a variable, a heap string of memoryMiB MiB of 'a'
	// (not zeros, so that every page is touched and written). Its stderr
	// goes to /dev/null once the variable is set: that is the sign it is
	// ready (building it briefly needs twice the memory). It then counts
	// without forking, waiting in the read builtin's timeout on a FIFO
	// nobody writes (in /dev/shm: runc's default spec, the bundles', has
	// a read-only root): a forked child is a copy-on-write image of those
	// pages until it execs, and a dump that catches one in between
	// writes them twice (seen once in 25 dumps with sleep 0.05).
	memory, err := makeBundle(filepath.Join(work, "memory"), "sh", "-c",
		fmt.Sprintf(`exec </dev/null >/dev/null; mkfifo /dev/shm/wait; exec 3<>/dev/shm/wait; `+
			`x=$(head -c %d /dev/zero | tr '\0' a); exec 2>/dev/null; i=0; while :; do i=$((i+1)); read -t 0.05 y <&3; done`, memoryMiB<<20))
	if err != nil {
		return nil, done, err
	}
	s.loads = []*workload{
		{name: "counter", bundle: counter, ready: stderrIsDevNull},
		{name: fmt.Sprintf("%d MiB", memoryMiB), bundle: memory, ready: func(pid int) (bool, error) {
			if ok, err := stderrIsDevNull(pid); !ok || err != nil {
				return ok, err
			}
			anon, err := rssAnon(pid)
			if err == nil && anon < memoryMiB<<20 {
				err = fmt.Errorf("memory workload ready with %d bytes anonymous, want %d MiB", anon, memoryMiB)
			}
			return err == nil, err
		}},
	}
	return s, done, nil
}

// measureCRIU is the extension point for CRIU measurements: n samples of
// the op list ops on each of loads for each runtime, interleaved (for
// each sample and workload the runtimes go in a random order), each
// sample a fresh container (criuSample). The runtimes are setup.rts, or
// the bench's. First one untimed sample of the first workload per runtime,
// also a warm-up: an optional runtime that fails it is left out of this
// section saying why (rt must not fail).
func (b *bench) measureCRIU(setup *criuSetup, title string, loads []*workload, ops []criuOp, n int) (*criuResults, error) {
	res := &criuResults{
		title: fmt.Sprintf("%s, %d samples per cell, %s pause, criu %s (%s), images in %s",
			title, n, *pause, setup.version, setup.criu, imagesWhere(setup.dir)),
		samples:  map[criuKey][]sample{},
		measures: map[criuKey][]int64{},
		excluded: map[string]string{},
	}
	for _, l := range loads {
		res.loads = append(res.loads, l.name)
	}
	for _, op := range ops {
		res.ops = append(res.ops, op.name)
	}
	rts := setup.rts
	if rts == nil {
		rts = b.rts
	}
	for _, rt := range rts {
		if err := b.criuSample(rt, loads[0], ops, setup.dir, nil); err != nil {
			if !rt.optional {
				return nil, err
			}
			res.excluded[rt.name] = whyNot(rt, err)
			continue
		}
		res.rts = append(res.rts, rt)
	}
	for i := 0; i < n; i++ {
		for _, l := range loads {
			for _, rt := range shuffle(res.rts) {
				if err := b.criuSample(rt, l, ops, setup.dir, res); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

// criuSample starts a container of load for rt, waits until it is ready,
// runs ops on it, each after the pause, and deletes whatever is left; res
// nil records nothing.
func (b *bench) criuSample(rt runtimeBin, load *workload, ops []criuOp, where string, res *criuResults) (err error) {
	dir, err := os.MkdirTemp(where, rt.name+"-")
	if err != nil {
		return err
	}
	c := &criuCtx{rt: rt, load: load, id: b.id(rt), dir: dir, images: filepath.Join(dir, "images"), res: res}
	defer func() {
		if _, serr := statePid(rt, c.id); serr == nil {
			if _, derr := call(rt, "delete", "--force", c.id); derr != nil && err == nil {
				err = derr
			}
		}
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if _, err := call(rt, "run", "-d", "--bundle", load.bundle, c.id); err != nil {
		return err
	}
	pid, err := statePid(rt, c.id)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ok, err := load.ready(pid)
		if err != nil {
			return fmt.Errorf("%s %s: %w", rt.name, load.name, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s container %s not ready after a minute", rt.name, load.name, c.id)
		}
	}
	anon, err := rssAnon(pid)
	if err != nil {
		return err
	}
	c.measure("init RssAnon", anon)
	for _, op := range ops {
		time.Sleep(*pause)
		s, err := op.do(c)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", op.name, load.name, err)
		}
		if res != nil && *criuVerbose {
			fmt.Fprintf(os.Stderr, "%s\t%s\t%s\t%s\n", op.name, load.name, rt.name, ms(s.d))
		}
		if res != nil {
			k := criuKey{op.name, load.name, rt.name}
			res.samples[k] = append(res.samples[k], s)
		}
	}
	return nil
}

// whyNot is the one line saying why rt cannot take part.
func whyNot(rt runtimeBin, err error) string {
	var ce *callError
	var r *refusal
	msg := err.Error()
	if errors.As(err, &r) {
		return r.why
	}
	if errors.As(err, &ce) {
		// The command without the global flags (--root R --criu P),
		// and the last line the runtime said.
		args := ce.args
		for len(args) > 1 && strings.HasPrefix(args[0], "--") {
			args = args[2:]
		}
		msg = fmt.Sprintf("%s %s: %v: %s", rt.name, args[0], ce.err, strings.ReplaceAll(ce.stderr, "\n", " / "))
	}
	if rt.name == "crun" {
		if v, _ := exec.Command(rt.path, "--version").Output(); !strings.Contains(string(v), "+CRIU") {
			msg += " (crun built without CRIU: no +CRIU in crun --version)"
		}
	}
	return msg
}

// statePid returns the pid of container id, an error if there is none.
func statePid(rt runtimeBin, id string) (int, error) {
	cmd := exec.Command(rt.path, "--root", rt.root, "state", id)
	cmd.Env = rt.env
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s state %s: %w", rt.name, id, err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		return 0, fmt.Errorf("%s state %s: no pid in %q", rt.name, id, out)
	}
	return st.Pid, nil
}

// stderrIsDevNull says whether pid's fd 2 is /dev/null (char device 1:3).
func stderrIsDevNull(pid int) (bool, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/fd/2", pid), &st); err != nil {
		return false, err
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == 1<<8|3, nil
}

// rssAnon is pid's resident anonymous memory in bytes.
func rssAnon(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", pid)
}

// imageSize is the bytes of the regular files in dir, all and pages-*.img.
func imageSize(dir string) (total, pages int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		if strings.HasPrefix(d.Name(), "pages-") {
			pages += fi.Size()
		}
		return nil
	})
	return total, pages, err
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
