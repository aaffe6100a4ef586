package systemd

// The conversion of linux.resources to unit properties, and the unit's
// start properties.

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
)

// propStrings renders properties as "Name=value", uint64's max as
// "infinity" and a D-Bus struct as a list, as it comes over the bus.
func propStrings(props []sddbus.Property) []string {
	var out []string
	for _, p := range props {
		out = append(out, p.Name+"="+propValue(reflect.ValueOf(p.Value.Value())))
	}
	return out
}

func propValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Interface:
		return propValue(v.Elem())
	case reflect.Slice, reflect.Struct:
		n, at := v.NumField, v.Field
		if v.Kind() == reflect.Slice {
			n, at = v.Len, v.Index
		}
		var elems []string
		for i := range n() {
			elems = append(elems, propValue(at(i)))
		}
		return "[" + strings.Join(elems, " ") + "]"
	case reflect.Uint64:
		if v.Uint() == infinity {
			return "infinity"
		}
	}
	return fmt.Sprint(v)
}

// propSignatures are the D-Bus types systemd takes for the properties
// (systemd.resource-control(5), and org.freedesktop.systemd1(5) for the
// unit's own); a property sent with another type is refused.
var propSignatures = map[string]string{
	"Description": "s", "Slice": "s", "Wants": "as", "Delegate": "b", "PIDs": "au", "DefaultDependencies": "b",
	"MemoryAccounting": "b", "CPUAccounting": "b", "BlockIOAccounting": "b", "IOAccounting": "b", "TasksAccounting": "b",
	"MemoryLimit": "t", "MemoryMax": "t", "MemoryMin": "t", "MemoryLow": "t", "MemoryHigh": "t", "MemorySwapMax": "t",
	"CPUShares": "t", "CPUWeight": "t", "CPUQuotaPerSecUSec": "t", "CPUQuotaPeriodUSec": "t",
	"AllowedCPUs": "ay", "AllowedMemoryNodes": "ay",
	"BlockIOWeight": "t", "IOWeight": "t", "TasksMax": "t",
	"DevicePolicy": "s", "DeviceAllow": "a(ss)",
}

// checkSignatures fails for a property with an unknown name or a type
// systemd would refuse.
func checkSignatures(t *testing.T, props []sddbus.Property) {
	t.Helper()
	for _, p := range props {
		want, ok := propSignatures[p.Name]
		if got := p.Value.Signature().String(); !ok || got != want {
			t.Errorf("property %s has D-Bus type %q, want %q", p.Name, got, want)
		}
	}
}

// devRule is a linux.resources.devices entry; major or minor -1 is "any".
func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != -1 {
		d.Major = &major
	}
	if minor != -1 {
		d.Minor = &minor
	}
	return d
}

type propCase struct {
	name    string
	version int // 0: 252
	r       specs.LinuxResources
	want    []string
}

func runPropCases(t *testing.T, v2 bool, tests []propCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			version := tc.version
			if version == 0 {
				version = 252
			}
			props, _, err := unitProperties(&tc.r, v2, version)
			if err != nil {
				t.Fatal(err)
			}
			if got := propStrings(props); !slices.Equal(got, tc.want) {
				t.Errorf("properties:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkSignatures(t, props)
		})
	}
}

// sdDeviceRules are runc's usual list: deny all, then some devices.
var sdDeviceRules = []specs.LinuxDeviceCgroup{
	devRule(false, "", -1, -1, "rwm"),
	devRule(true, "c", 1, 3, "rwm"),
	devRule(true, "c", 136, -1, "rwm"),
	devRule(true, "b", 8, 0, "r"),
	devRule(true, "c", -1, -1, "m"),
}

// sdDeviceProps is what sdDeviceRules convert to: the library's emulator
// sorts the rules it keeps.
var sdDeviceProps = []string{
	"DeviceAllow=[]", "DevicePolicy=strict",
	"DeviceAllow=[[char-* m] [/dev/char/1:3 rwm] [/dev/block/8:0 r] [char-136 rwm]]",
}

func TestUnitPropertiesV1(t *testing.T) {
	runPropCases(t, false, []propCase{
		{name: "nothing", want: nil},
		{name: "memory limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}},
			want: []string{"MemoryLimit=1073741824"}},
		{name: "no memory limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{"MemoryLimit=infinity"}},
		{name: "v1 swap and reservation have no property", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Swap: ptr[int64](1 << 30), Reservation: ptr[int64](1 << 20), Swappiness: ptr[uint64](10)}},
			want: nil},
		{name: "zero is unset", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](0)}, CPU: &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0)}},
			want: nil},
		{name: "shares, quota and period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)}},
			want: []string{"CPUShares=512", "CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=500000"}},
		{name: "quota with the default period, rounded up", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](1500)}},
			want: []string{"CPUQuotaPerSecUSec=20000"}},
		{name: "quota with its period, rounded up", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](12345), Period: ptr[uint64](50000)}},
			want: []string{"CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=250000"}},
		{name: "no quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}},
			want: []string{"CPUQuotaPerSecUSec=infinity"}},
		{name: "period alone keeps the quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}},
			want: []string{"CPUQuotaPeriodUSec=50000"}},
		{name: "systemd 241 has no period", version: 241, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](50000)}},
			want: []string{"CPUQuotaPerSecUSec=1000000"}},
		{name: "v1 cpuset and idle have no property", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0", Idle: ptr[int64](1)}},
			want: nil},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}}, want: []string{"TasksMax=100"}},
		{name: "pids none", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}, want: []string{"TasksMax=infinity"}},
		{name: "pids 0 is 1", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}}, want: []string{"TasksMax=1"}},
		{name: "blkio weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](100)}}}},
			want: []string{"BlockIOWeight=500"}},
		{name: "devices", r: specs.LinuxResources{Devices: sdDeviceRules}, want: sdDeviceProps},
		{name: "no device", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}},
			want: []string{"DeviceAllow=[]", "DevicePolicy=strict", "DeviceAllow=[]"}},
		{name: "every device", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devRule(true, "a", -1, -1, "")}},
			want: []string{"DeviceAllow=[]", "DevicePolicy=auto"}},
		{name: "unified is not systemd's on v1", r: specs.LinuxResources{Unified: map[string]string{"memory.max": "1024"}}, want: nil},
	})
}

func TestUnitPropertiesV2(t *testing.T) {
	runPropCases(t, true, []propCase{
		{name: "memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 30), Swap: ptr[int64](3 << 29), Reservation: ptr[int64](1 << 29)}},
			want: []string{"MemoryMax=1073741824", "MemoryLow=536870912", "MemorySwapMax=536870912"}},
		{name: "no limit lifts swap too", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{"MemoryMax=infinity", "MemorySwapMax=infinity"}},
		{name: "swap equal to the limit is no swap", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](1 << 30)}},
			want: []string{"MemoryMax=1073741824", "MemorySwapMax=0"}},
		{name: "unlimited swap", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](-1)}},
			want: []string{"MemoryMax=1073741824", "MemorySwapMax=infinity"}},
		{name: "shares are a weight", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}},
			want: []string{"CPUWeight=100"}},
		{name: "small shares", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}},
			want: []string{"CPUWeight=1"}},
		{name: "idle is weight 0", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](1)}},
			want: []string{"CPUWeight=0"}},
		{name: "systemd 251 has no idle", version: 251, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](1)}},
			want: nil},
		{name: "quota and period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](150000), Period: ptr[uint64](100000)}},
			want: []string{"CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=1500000"}},
		{name: "cpuset", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-3,9", Mems: "0"}},
			want: []string{"AllowedCPUs=[15 2]", "AllowedMemoryNodes=[1]"}}, // CPUs 0-7 in the first byte
		{name: "systemd 243 has no cpuset", version: 243, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-3", Mems: "0"}},
			want: nil},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}, want: []string{"TasksMax=infinity"}},
		{name: "io weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			want: []string{"IOWeight=4950"}},
		{name: "devices", r: specs.LinuxResources{Devices: sdDeviceRules}, want: sdDeviceProps},
		{name: "unified after the fields", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
			Unified: map[string]string{
				"memory.max": "2147483648", "memory.high": " max\n", "memory.min": "0", "memory.low": "4096", "memory.swap.max": "0",
				"pids.max": "0", "cpu.weight": "200", "cpu.max": "max 50000", "cpuset.cpus": "1,3", "cpuset.mems": "0",
				"io.max": "8:0 rbps=1024", "memory.oom.group": "1", "cgroup.freeze": "0",
			}},
			want: []string{"MemoryMax=1073741824",
				"CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=infinity", "CPUWeight=200", "AllowedCPUs=[10]", "AllowedMemoryNodes=[1]",
				"MemoryHigh=infinity", "MemoryLow=4096", "MemoryMax=2147483648", "MemoryMin=0", "MemorySwapMax=0", "TasksMax=1"}},
		{name: "unified cpu.max with the default period", r: specs.LinuxResources{Unified: map[string]string{"cpu.max": "25000"}},
			want: []string{"CPUQuotaPerSecUSec=250000"}},
		{name: "unified idle wins over a weight", r: specs.LinuxResources{Unified: map[string]string{"cpu.idle": "1", "cpu.weight": "300"}},
			want: []string{"CPUWeight=0"}},
		{name: "unified idle 0 has no property", r: specs.LinuxResources{Unified: map[string]string{"cpu.idle": "0", "cpu.weight": "300"}},
			want: []string{"CPUWeight=300"}},
	})
}

// TestUnitPropertiesRoundsQuota checks that the resources come back with
// the quota systemd will apply, in a copy.
func TestUnitPropertiesRoundsQuota(t *testing.T) {
	for _, tc := range []struct {
		quota  int64
		period uint64
		want   int64
	}{
		{quota: 1500, want: 2000},
		{quota: 12345, period: 50000, want: 12500},
		{quota: 50000, period: 100000, want: 50000},
		{quota: 1000, period: 1000000, want: 10000},
		{quota: -1, want: -1},
	} {
		t.Run(fmt.Sprint(tc.quota, "/", tc.period), func(t *testing.T) {
			r := &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(tc.quota), Shares: ptr[uint64](100)}}
			if tc.period != 0 {
				r.CPU.Period = ptr(tc.period)
			}
			for _, v2 := range []bool{false, true} {
				_, out, err := unitProperties(r, v2, 252)
				if err != nil {
					t.Fatal(err)
				}
				if got := *out.CPU.Quota; got != tc.want {
					t.Errorf("v2 %v: quota %d, want %d", v2, got, tc.want)
				}
				if (out == r) != (tc.want == tc.quota) {
					t.Errorf("v2 %v: a copy came back: %v, want one only for a changed quota", v2, out != r)
				}
				if *r.CPU.Quota != tc.quota || *out.CPU.Shares != 100 {
					t.Errorf("v2 %v: the caller's quota became %d, the copy's shares %d", v2, *r.CPU.Quota, *out.CPU.Shares)
				}
			}
		})
	}
}

func TestUnitPropertiesRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		v2   bool
		r    specs.LinuxResources
		err  string
	}{
		{name: "negative limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}},
			err: "linux.resources.memory.limit: -2 is not a limit"},
		{name: "negative v2 reservation", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr[int64](-5)}},
			err: "linux.resources.memory.reservation: -5 is not a limit"},
		{name: "v2 swap without a limit", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](1 << 30)}},
			err: "linux.resources.memory.swap: 1073741824 with limit 0"},
		{name: "v2 swap below the limit", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 << 30), Swap: ptr[int64](1 << 30)}},
			err: "linux.resources.memory.swap"},
		{name: "negative quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-2)}},
			err: "linux.resources.cpu.quota: -2 is out of range"},
		{name: "huge quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](1 << 62)}},
			err: "linux.resources.cpu.quota: 4611686018427387904 µs is more than systemd"},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-3)}},
			err: "linux.resources.pids.limit: -3 is out of range"},
		{name: "blkio weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}},
			err: "linux.resources.blockIO.weight: 5 is out of range"},
		{name: "device type", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devRule(true, "x", 1, 3, "rwm")}},
			err: `linux.resources.devices[0].type: "x" is not a, b or c`},
		{name: "device access", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 3, "rwx")}},
			err: "linux.resources.devices[0].access"},
		{name: "cpus", v2: true, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}},
			err: `linux.resources.cpu.cpus: "3-1"`},
		{name: "unified memory", v2: true, r: specs.LinuxResources{Unified: map[string]string{"memory.max": "1G"}},
			err: `linux.resources.unified["memory.max"]: "1G" is neither "max" nor a number`},
		{name: "unified small quota", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cpu.max": "500"}},
			err: `linux.resources.unified["cpu.max"]: "500" is not "$MAX [$PERIOD]"`},
		{name: "unified period", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cpu.max": "max 10"}},
			err: `linux.resources.unified["cpu.max"]`},
		{name: "unified cpu.max fields", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cpu.max": "1 2 3"}},
			err: `linux.resources.unified["cpu.max"]`},
		{name: "unified weight", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cpu.weight": "0"}},
			err: `linux.resources.unified["cpu.weight"]: "0" is not a weight`},
		{name: "unified cpus", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cpuset.cpus": "a"}},
			err: `linux.resources.unified["cpuset.cpus"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props, out, err := unitProperties(&tc.r, tc.v2, 252)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
			if props != nil || out != nil {
				t.Errorf("properties %v and resources %v with the error", propStrings(props), out)
			}
		})
	}
}

// TestStartProperties checks what a unit starts with.
func TestStartProperties(t *testing.T) {
	root := t.TempDir()
	v2 := []cgroups.Mount{{Mountpoint: filepath.Join(root, "unified"), Root: "/", Keys: []string{""}}}
	for _, tc := range []struct {
		name string
		hs   []cgroups.Mount
		path string
		want []string
	}{
		{name: "hybrid scope", hs: hybridHierarchies(root), path: "", want: []string{
			"Description=rt container c1", "Slice=system.slice", "Delegate=true", "PIDs=[4242]",
			"MemoryAccounting=true", "CPUAccounting=true", "BlockIOAccounting=true", "TasksAccounting=true", "DefaultDependencies=false"}},
		{name: "cgroup2 scope", hs: v2, path: "machine.slice:libpod:c1", want: []string{
			"Description=rt container c1", "Slice=machine.slice", "Delegate=true", "PIDs=[4242]",
			"MemoryAccounting=true", "CPUAccounting=true", "IOAccounting=true", "TasksAccounting=true", "DefaultDependencies=false"}},
		{name: "slice", hs: v2, path: "system.slice:rt:system-c1.slice", want: []string{
			"Description=rt container c1", "Wants=[system.slice]",
			"MemoryAccounting=true", "CPUAccounting=true", "IOAccounting=true", "TasksAccounting=true", "DefaultDependencies=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newManager(tc.hs, tc.path, "c1", nil)
			if err != nil {
				t.Fatal(err)
			}
			props := m.startProperties(4242)
			if got := propStrings(props); !slices.Equal(got, tc.want) {
				t.Errorf("properties:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkSignatures(t, props)
		})
	}
}
