package fs

import (
	"os"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.blockIO: blkio on v1 (CFQ or BFQ files), io on cgroup2.

func TestBlockIOV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "blkio on BFQ", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr[uint16](500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1048576}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 2097152}, {LinuxBlockIODevice: dev(8, 16), Rate: 0}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 100}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 200}},
		}}, want: []string{
			"blkio/c1/blkio.bfq.weight=500",
			"blkio/c1/blkio.bfq.weight_device=8:0 300",
			"blkio/c1/blkio.throttle.read_bps_device=8:0 1048576",
			"blkio/c1/blkio.throttle.write_bps_device=8:0 2097152",
			"blkio/c1/blkio.throttle.write_bps_device=8:16 0",
			"blkio/c1/blkio.throttle.read_iops_device=8:0 100",
			"blkio/c1/blkio.throttle.write_iops_device=8:0 200",
		}},
		{name: "blkio on CFQ",
			prepare: func(f *fakeTree) {
				for _, name := range []string{"blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device"} {
					f.File(f.Path("blkio/c1/"+name), "")
				}
			},
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](500), LeafWeight: ptr[uint16](200),
				WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300), LeafWeight: ptr[uint16](100)}},
			}},
			want: []string{
				"blkio/c1/blkio.weight=500",
				"blkio/c1/blkio.leaf_weight=200",
				"blkio/c1/blkio.weight_device=8:0 300",
				"blkio/c1/blkio.leaf_weight_device=8:0 100",
			}},
	})
}

func TestBlockIOV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "io without BFQ: io.weight, converted", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr[uint16](500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1048576}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 0}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 10}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 20}},
		}}, want: with(enable("io"),
			c1+"io.weight=4950",
			c1+"io.weight=8:0 2930",
			c1+"io.max=8:0 rbps=1048576",
			c1+"io.max=8:0 wbps=max",
			c1+"io.max=8:0 riops=10",
			c1+"io.max=8:0 wiops=20")},
		{name: "io with BFQ: same scale",
			prepare: func(f *fakeTree) { f.File(f.Path(c1+"io.bfq.weight"), "default 100\n") },
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:       ptr[uint16](500),
				WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			}}, want: with(enable("io"), c1+"io.bfq.weight=500", c1+"io.bfq.weight=8:0 300")},
	})
}

func TestBlockIORefused(t *testing.T) {
	blk := func(b specs.LinuxBlockIO) specs.LinuxResources { return specs.LinuxResources{BlockIO: &b} }
	runBadCases(t, []badCase{
		{name: "blkio weight low", r: blk(specs.LinuxBlockIO{Weight: ptr[uint16](9)}), want: "linux.resources.blockIO.weight: 9 is out of range (10-1000)"},
		{name: "blkio weight high", r: blk(specs.LinuxBlockIO{Weight: ptr[uint16](1001)}), want: "linux.resources.blockIO.weight: 1001 is out of range (10-1000)"},
		{name: "blkio leaf weight", r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](5)}), want: "linux.resources.blockIO.leafWeight: 5 is out of range (10-1000)"},
		{name: "blkio device weight", r: blk(specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](2000)}}}),
			want: "linux.resources.blockIO.weightDevice[0].weight: 2000 is out of range (10-1000)"},
		{name: "blkio device number", r: blk(specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0)}, {LinuxBlockIODevice: dev(-1, 0)}}}),
			want: "linux.resources.blockIO.throttleReadBpsDevice[1]: device -1:0 is not a block device number"},
		{name: "v2 leaf weight", v2: true, r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.leafWeight: cgroup2 has no leaf weight"},
		{name: "no leaf weight", r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.leafWeight: ROOT/cgroup/blkio/c1/blkio.leaf_weight does not exist: leaf weights were CFQ's, which Linux 5.0 removed"},
		{name: "no weight at all", prepare: func(f *fakeTree) { os.Remove(f.Path("blkio/c1/blkio.bfq.weight")) },
			r:    blk(specs.LinuxBlockIO{Weight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.weight: ROOT/cgroup/blkio/c1/blkio.weight (nor blkio.bfq.weight) does not exist: no proportional-weight I/O scheduler: CFQ is gone since Linux 5.0 and BFQ is not loaded"},
	})
}
