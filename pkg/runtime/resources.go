package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/store"
)

// Pause implements api.ContainerOperations: freeze every process.
func (r *Runtime) Pause(_ context.Context, id string) error {
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := Refuse(api.OpPause, id, r.Status(st)); err != nil {
		return err
	}
	killpoint.Hit("pause.checked")
	if err := needCgroup(st); err != nil {
		return fmt.Errorf("pause container %q: %w", id, err)
	}
	if err := fs.Load(st.CgroupPaths).Freeze(); err != nil {
		return fmt.Errorf("pause container %q: %w", id, err)
	}
	killpoint.Hit("pause.done")
	return nil
}

// Resume implements api.ContainerOperations: thaw a paused container.
func (r *Runtime) Resume(_ context.Context, id string) error {
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := Refuse(api.OpResume, id, r.Status(st)); err != nil {
		return err
	}
	killpoint.Hit("resume.checked")
	if err := needCgroup(st); err != nil {
		return fmt.Errorf("resume container %q: %w", id, err)
	}
	if err := fs.Load(st.CgroupPaths).Thaw(); err != nil {
		return fmt.Errorf("resume container %q: %w", id, err)
	}
	killpoint.Hit("resume.done")
	return nil
}

// OpenLoaded locks container id and reads its state; the caller closes the
// handle.
func (r *Runtime) OpenLoaded(id string) (*store.Handle, *store.State, error) {
	h, err := r.store.Open(id)
	if err != nil {
		return nil, nil, err
	}
	st, err := h.Load()
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, st, nil
}

// Update implements api.ContainerOperations: the new values are applied,
// then merged into the recorded spec, so a later update or state sees them.
// Nothing is recorded when the kernel refuses a value.
func (r *Runtime) Update(_ context.Context, id string, opts api.UpdateOpts) error {
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := Refuse(api.OpUpdate, id, r.Status(st)); err != nil {
		return err
	}
	killpoint.Hit("update.checked")
	if opts.Resources == nil {
		return nil
	}
	// Only the resources of the recorded spec are decoded and
	// re-encoded: the whole spec would cost a fresh rt ~1 ms both ways.
	cur, err := st.Spec.Resources()
	if err != nil {
		return err
	}
	given, ignored := cgroups.DropIgnored(opts.Resources)
	r.warnIgnored(id, ignored)
	res := *given
	res.Devices = withDefaultDevices(res.Devices)
	if err := needCgroup(st); err != nil {
		return fmt.Errorf("update container %q: %w", id, err)
	}
	cg, err := loadCgroups(st)
	if err != nil {
		return err
	}
	if r.rootless() {
		cg = delegated{cg} // what it may not write, left out as at create
	}
	if err := cg.Set(&res); err != nil {
		return err
	}
	killpoint.Hit("update.applied")
	if st.Spec != nil {
		if cur == nil {
			cur = &specs.LinuxResources{}
		}
		mergeResources(cur, given)
		if err := st.Spec.SetResources(cur); err != nil {
			return err
		}
	}
	if err := h.Save(st); err != nil {
		return err
	}
	killpoint.Hit("update.done")
	return nil
}

// mergeResources sets in dst every field set in src.
func mergeResources(dst, src *specs.LinuxResources) {
	if src.Memory != nil {
		if dst.Memory == nil {
			dst.Memory = &specs.LinuxMemory{}
		}
		m, s := dst.Memory, src.Memory
		setIf(&m.Limit, s.Limit)
		setIf(&m.Reservation, s.Reservation)
		setIf(&m.Swap, s.Swap)
		// Not kernel and kernelTCP: never applied (cgroups.DropIgnored),
		// so never recorded.
		setIf(&m.Swappiness, s.Swappiness)
		setIf(&m.DisableOOMKiller, s.DisableOOMKiller)
		setIf(&m.UseHierarchy, s.UseHierarchy)
		setIf(&m.CheckBeforeUpdate, s.CheckBeforeUpdate)
	}
	if src.CPU != nil {
		if dst.CPU == nil {
			dst.CPU = &specs.LinuxCPU{}
		}
		c, s := dst.CPU, src.CPU
		setIf(&c.Shares, s.Shares)
		setIf(&c.Quota, s.Quota)
		setIf(&c.Burst, s.Burst)
		setIf(&c.Period, s.Period)
		setIf(&c.RealtimeRuntime, s.RealtimeRuntime)
		setIf(&c.RealtimePeriod, s.RealtimePeriod)
		setIf(&c.Idle, s.Idle)
		if s.Cpus != "" {
			c.Cpus = s.Cpus
		}
		if s.Mems != "" {
			c.Mems = s.Mems
		}
	}
	if src.Pids != nil {
		dst.Pids = src.Pids
	}
	if src.BlockIO != nil {
		if dst.BlockIO == nil {
			dst.BlockIO = &specs.LinuxBlockIO{}
		}
		b, s := dst.BlockIO, src.BlockIO
		setIf(&b.Weight, s.Weight)
		setIf(&b.LeafWeight, s.LeafWeight)
		for _, l := range []struct{ dst, src *[]specs.LinuxThrottleDevice }{
			{&b.ThrottleReadBpsDevice, &s.ThrottleReadBpsDevice},
			{&b.ThrottleWriteBpsDevice, &s.ThrottleWriteBpsDevice},
			{&b.ThrottleReadIOPSDevice, &s.ThrottleReadIOPSDevice},
			{&b.ThrottleWriteIOPSDevice, &s.ThrottleWriteIOPSDevice},
		} {
			if *l.src != nil {
				*l.dst = *l.src
			}
		}
		if s.WeightDevice != nil {
			b.WeightDevice = s.WeightDevice
		}
	}
	if src.HugepageLimits != nil {
		dst.HugepageLimits = src.HugepageLimits
	}
	if src.Network != nil {
		dst.Network = src.Network
	}
	if src.Rdma != nil {
		dst.Rdma = src.Rdma
	}
	if src.Unified != nil {
		if dst.Unified == nil {
			dst.Unified = map[string]string{}
		}
		for k, v := range src.Unified {
			dst.Unified[k] = v
		}
	}
	if src.Devices != nil {
		dst.Devices = src.Devices
	}
}

func setIf[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

// Events implements api.ContainerOperations: one stats snapshot with
// opts.Stats, else stats every opts.Interval and an "oom" event for each
// OOM kill, until the container exits or ctx ends.
func (r *Runtime) Events(ctx context.Context, id string, opts api.EventsOpts) error {
	st, err := r.store.Read(id)
	if err != nil {
		return err
	}
	if err := Refuse(api.OpEvents, id, r.Status(st)); err != nil {
		return err
	}
	cg := fs.Load(st.CgroupPaths)
	stats := func() error {
		s, err := cg.Stats()
		if err != nil {
			return fmt.Errorf("stats of container %q: %w", id, err)
		}
		s.NetworkInterfaces = netStats(st.InitPid)
		return opts.Sink(api.Event{Type: "stats", ID: id, Data: s})
	}
	if opts.Stats {
		return stats()
	}
	stop := make(chan struct{})
	defer close(stop)
	ooms, err := cg.OOMNotify(stop)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Warn("no OOM events", "id", id, "error", err)
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	// A short poll notices the exit well before the next stats tick.
	exitPoll := time.NewTicker(100 * time.Millisecond)
	defer exitPoll.Stop()
	if err := stats(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ooms:
			if !ok {
				ooms = nil
				continue
			}
			if err := opts.Sink(api.Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		case <-exitPoll.C:
			if !alive(st.InitPid, st.InitStartTime) {
				return nil
			}
		case <-tick.C:
			if !alive(st.InitPid, st.InitStartTime) {
				return nil
			}
			if err := stats(); err != nil {
				return err
			}
		}
	}
}

// netStats reads the interface counters of the container's network
// namespace from its init's /proc/<pid>/net/dev; lo is left out, as runc
// does.
func netStats(pid int) []*cgroups.NetworkInterface {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*cgroups.NetworkInterface
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		out = append(out, &cgroups.NetworkInterface{
			Name: name, RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11),
		})
	}
	return out
}
