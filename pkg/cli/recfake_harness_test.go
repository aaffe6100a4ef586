package cli_test

// This file holds the recording fake runtime and the helpers the other
// recfake_*_test.go files use to run rt and rt-checkpoint in-process.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cli"
	"github.com/rtkit/rt/pkg/rtcli"
)

// recCall is one method call the fake received.
type recCall struct {
	Method string
	ID     string
	// Opts is the option value the method got (api.CreateOpts, api.ExecOpts,
	// api.KillOpts, api.DeleteOpts, api.UpdateOpts, api.EventsOpts,
	// api.CheckpointOpts, api.RestoreOpts) or, for DefaultSpec, the rootless
	// bool; nil for methods without options.
	Opts   any
	Signal api.Signal
}

// recFake implements api.ContainerOperations, api.CheckpointOperations,
// api.SpecGenerator, api.FeatureReporter and api.PageServerRunner, records
// every call and answers with the configured results.
type recFake struct {
	mu    sync.Mutex
	calls []recCall
	// cfgs are the GlobalConfigs the factory received, one per call.
	cfgs []api.GlobalConfig

	factoryErr error
	// errs and results are answered per method name ("Run", "Exec", ...).
	errs    map[string]error
	results map[string]*api.Result

	state    *api.Container
	list     []api.Container
	pids     []int
	spec     *specs.Spec
	features *features.Features
	events   []api.Event
	// dumpStats and restoreStats, when set, are handed to the
	// OnDumpStats and OnRestoreStats callbacks of a successful
	// Checkpoint and Restore, as the real runtime does.
	dumpStats    *api.DumpStats
	restoreStats *api.RestoreStats
	// logOnCall, when set, is called with the factory's logger on every
	// method call, so tests can see what the CLI's logger writes.
	logOnCall func(cfg api.GlobalConfig)
	// listenPort is what PageServer reports to OnListening.
	listenPort int
	// daemonRun, when set, runs inside PageServer and LazyPages (with
	// their context) and its error is theirs.
	daemonRun func(ctx context.Context) error
}

var (
	_ api.ContainerOperations  = (*recFake)(nil)
	_ api.CheckpointOperations = (*recFake)(nil)
	_ api.SpecGenerator        = (*recFake)(nil)
	_ api.FeatureReporter      = (*recFake)(nil)
	_ api.PageServerRunner     = (*recFake)(nil)
)

func newRecFake() *recFake {
	return &recFake{errs: map[string]error{}, results: map[string]*api.Result{}}
}

// factory is the api.Factory handed to the Program.
func (f *recFake) factory(cfg api.GlobalConfig) (api.ContainerOperations, error) {
	f.mu.Lock()
	f.cfgs = append(f.cfgs, cfg)
	f.mu.Unlock()
	if f.factoryErr != nil {
		return nil, f.factoryErr
	}
	return f, nil
}

func (f *recFake) record(c recCall) error {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	var cfg api.GlobalConfig
	if len(f.cfgs) > 0 {
		cfg = f.cfgs[len(f.cfgs)-1]
	}
	hook := f.logOnCall
	err := f.errs[c.Method]
	f.mu.Unlock()
	if hook != nil {
		hook(cfg)
	}
	return err
}

func (f *recFake) result(method string) *api.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.results[method]; ok {
		return r
	}
	return &api.Result{}
}

func (f *recFake) Create(_ context.Context, id string, opts api.CreateOpts) error {
	return f.record(recCall{Method: "Create", ID: id, Opts: opts})
}

func (f *recFake) Start(_ context.Context, id string) error {
	return f.record(recCall{Method: "Start", ID: id})
}

func (f *recFake) Run(_ context.Context, id string, opts api.CreateOpts) (*api.Result, error) {
	if err := f.record(recCall{Method: "Run", ID: id, Opts: opts}); err != nil {
		return nil, err
	}
	return f.result("Run"), nil
}

func (f *recFake) State(_ context.Context, id string) (*api.Container, error) {
	if err := f.record(recCall{Method: "State", ID: id}); err != nil {
		return nil, err
	}
	if f.state != nil {
		return f.state, nil
	}
	return &api.Container{ID: id, Status: api.StatusRunning}, nil
}

func (f *recFake) List(_ context.Context) ([]api.Container, error) {
	if err := f.record(recCall{Method: "List"}); err != nil {
		return nil, err
	}
	return f.list, nil
}

func (f *recFake) Kill(_ context.Context, id string, sig api.Signal, opts api.KillOpts) error {
	return f.record(recCall{Method: "Kill", ID: id, Signal: sig, Opts: opts})
}

func (f *recFake) Delete(_ context.Context, id string, opts api.DeleteOpts) error {
	return f.record(recCall{Method: "Delete", ID: id, Opts: opts})
}

func (f *recFake) Pause(_ context.Context, id string) error {
	return f.record(recCall{Method: "Pause", ID: id})
}

func (f *recFake) Resume(_ context.Context, id string) error {
	return f.record(recCall{Method: "Resume", ID: id})
}

func (f *recFake) PS(_ context.Context, id string) ([]int, error) {
	if err := f.record(recCall{Method: "PS", ID: id}); err != nil {
		return nil, err
	}
	return f.pids, nil
}

func (f *recFake) Exec(_ context.Context, id string, opts api.ExecOpts) (*api.Result, error) {
	if err := f.record(recCall{Method: "Exec", ID: id, Opts: opts}); err != nil {
		return nil, err
	}
	return f.result("Exec"), nil
}

func (f *recFake) Update(_ context.Context, id string, opts api.UpdateOpts) error {
	return f.record(recCall{Method: "Update", ID: id, Opts: opts})
}

func (f *recFake) Events(_ context.Context, id string, opts api.EventsOpts) error {
	if err := f.record(recCall{Method: "Events", ID: id, Opts: opts}); err != nil {
		return err
	}
	for _, ev := range f.events {
		if err := opts.Sink(ev); err != nil {
			return err
		}
	}
	return nil
}

func (f *recFake) Checkpoint(_ context.Context, id string, opts api.CheckpointOpts) error {
	if err := f.record(recCall{Method: "Checkpoint", ID: id, Opts: opts}); err != nil {
		return err
	}
	if opts.OnDumpStats != nil && f.dumpStats != nil {
		opts.OnDumpStats(f.dumpStats)
	}
	return nil
}

func (f *recFake) Restore(_ context.Context, id string, opts api.RestoreOpts) (*api.Result, error) {
	if err := f.record(recCall{Method: "Restore", ID: id, Opts: opts}); err != nil {
		return nil, err
	}
	if opts.OnRestoreStats != nil && f.restoreStats != nil {
		opts.OnRestoreStats(f.restoreStats)
	}
	return f.result("Restore"), nil
}

// PageServer records opts with OnListening replaced by nil (a func cannot
// be compared), calls it with listenPort, then runs daemonRun.
func (f *recFake) PageServer(ctx context.Context, opts api.PageServerOpts) error {
	onListening := opts.OnListening
	opts.OnListening = nil
	if err := f.record(recCall{Method: "PageServer", Opts: opts}); err != nil {
		return err
	}
	if onListening != nil {
		onListening(f.listenPort)
	}
	if f.daemonRun != nil {
		return f.daemonRun(ctx)
	}
	return nil
}

func (f *recFake) LazyPages(ctx context.Context, opts api.LazyPagesOpts) error {
	if err := f.record(recCall{Method: "LazyPages", Opts: opts}); err != nil {
		return err
	}
	if f.daemonRun != nil {
		return f.daemonRun(ctx)
	}
	return nil
}

func (f *recFake) DefaultSpec(rootless bool) (*specs.Spec, error) {
	if err := f.record(recCall{Method: "DefaultSpec", Opts: rootless}); err != nil {
		return nil, err
	}
	if f.spec != nil {
		return f.spec, nil
	}
	return &specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "rootfs"}}, nil
}

func (f *recFake) Features() (*features.Features, error) {
	if err := f.record(recCall{Method: "Features"}); err != nil {
		return nil, err
	}
	if f.features != nil {
		return f.features, nil
	}
	return &features.Features{OCIVersionMin: "1.0.0", OCIVersionMax: specs.Version}, nil
}

// Calls returns a copy of the recorded calls.
func (f *recFake) Calls() []recCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recCall(nil), f.calls...)
}

// FactoryCalls is how often the factory ran.
func (f *recFake) FactoryCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cfgs)
}

// LastConfig is the GlobalConfig the factory got last.
func (f *recFake) LastConfig(t *testing.T) api.GlobalConfig {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cfgs) == 0 {
		t.Fatal("the factory was never called")
	}
	return f.cfgs[len(f.cfgs)-1]
}

// onlyCall asserts that exactly one runtime method was called and returns it.
func (f *recFake) onlyCall(t *testing.T, method string) recCall {
	t.Helper()
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("runtime calls = %+v, want exactly one %s", calls, method)
	}
	if calls[0].Method != method {
		t.Fatalf("runtime method = %s, want %s", calls[0].Method, method)
	}
	return calls[0]
}

// noCalls asserts that the runtime was neither built nor called.
func (f *recFake) noCalls(t *testing.T) {
	t.Helper()
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("runtime was called: %+v", calls)
	}
	if n := f.FactoryCalls(); n != 0 {
		t.Errorf("factory was called %d times, want 0", n)
	}
}

// onlyOps hides the optional interfaces of a runtime.
type onlyOps struct{ api.ContainerOperations }

// recRTCommands are rt's commands as cmd/rt/main.go lists them, except that
// checkpoint and restore hand over to a binary that exists nowhere, so that
// no test can replace the test process with a real rt-checkpoint.
func recRTCommands() []func(*cli.Env) *cobra.Command {
	return cli.LifecycleCommands("rt-checkpoint-missing-xyz")
}

// recRTProgram is rt built as cmd/rt/main.go builds it, on factory.
func recRTProgram(factory api.Factory) cli.Program {
	return rtcli.Program(cli.Program{
		Name:     "rt",
		Short:    "rt is an OCI container runtime",
		Long:     "rt runs OCI containers.",
		Factory:  factory,
		Commands: recRTCommands(),
	})
}

// recCkptProgram is rt-checkpoint built as cmd/rt-checkpoint/main.go builds
// it, on factory.
func recCkptProgram(factory api.Factory) cli.Program {
	return rtcli.Program(cli.Program{
		Name:    "rt-checkpoint",
		Short:   "rt-checkpoint checkpoints and restores rt containers with CRIU",
		Factory: factory,
		Commands: []func(*cli.Env) *cobra.Command{
			cli.NewCheckpointCommand,
			cli.NewRestoreCommand,
			cli.NewPageServerCommand,
			cli.NewLazyPagesCommand,
			cli.NewConfigCommand,
		},
	})
}

// recEnvKeys are the environment variables pkg/config reads.
var recEnvKeys = []string{"RT_ROOT", "RT_CRIU", "RT_CRIU_PROGRESS_TIMEOUT", "RT_MIGRATION_TOKEN", "RT_CGROUP_DRIVER", "RT_CGROUP_PARENT", "RT_INIT", "RT_LOG", "RT_LOG_FORMAT", "RT_DEBUG"}

// recIsolate keeps the machine's /etc/rt/config.yaml and RT_* variables out
// of the test: RT_CONFIG names an empty (valid) YAML file and every other
// RT_* variable is empty, which pkg/config treats as unset. It returns the
// config file's path.
func recIsolate(t *testing.T) string {
	t.Helper()
	for _, k := range recEnvKeys {
		t.Setenv(k, "")
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RT_CONFIG", file)
	return file
}

// recOut is the outcome of one program run.
type recOut struct {
	code   int
	stdout string
	stderr string
}

// recMain runs prog with args exactly as given and stdin as its input.
func recMain(t *testing.T, prog cli.Program, stdin string, args ...string) recOut {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(prog, args, strings.NewReader(stdin), &stdout, &stderr)
	return recOut{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// recRT isolates the environment and runs rt with --root in a temporary
// directory followed by args.
func recRT(t *testing.T, f *recFake, args ...string) recOut {
	t.Helper()
	recIsolate(t)
	return recMain(t, recRTProgram(f.factory), "", append([]string{"--root", t.TempDir()}, args...)...)
}

// recCkpt is recRT for rt-checkpoint.
func recCkpt(t *testing.T, f *recFake, args ...string) recOut {
	t.Helper()
	recIsolate(t)
	return recMain(t, recCkptProgram(f.factory), "", append([]string{"--root", t.TempDir()}, args...)...)
}

// lines splits output into its lines, without the final newline.
func recLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// wantExit checks the exit code and, on mismatch, shows the output.
func (o recOut) wantExit(t *testing.T, code int) {
	t.Helper()
	if o.code != code {
		t.Fatalf("exit code = %d, want %d\nstdout: %q\nstderr: %q", o.code, code, o.stdout, o.stderr)
	}
}

// oneErrLine checks that stderr is exactly one line and returns it.
func (o recOut) oneErrLine(t *testing.T) string {
	t.Helper()
	l := recLines(o.stderr)
	if len(l) != 1 || !strings.HasSuffix(o.stderr, "\n") {
		t.Fatalf("stderr = %q, want exactly one line", o.stderr)
	}
	return l[0]
}

func recPtr[T any](v T) *T { return &v }
