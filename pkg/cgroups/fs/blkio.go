package fs

// linux.resources.blockIO: blkio on v1, io on cgroup2.

import (
	"fmt"

	libcg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// weight checks a blkio weight (10-1000, 0 unset).
func (p *planner) weight(field string, w *uint16) uint16 {
	if w == nil || *w == 0 {
		return 0
	}
	if *w < 10 || *w > 1000 {
		p.bad(field, "%d is out of range (10-1000)", *w)
	}
	return *w
}

// device checks a block device's numbers.
func (p *planner) device(field string, d specs.LinuxBlockIODevice) string {
	if d.Major < 0 || d.Minor < 0 {
		p.bad(field, "device %d:%d is not a block device number", d.Major, d.Minor)
	}
	return fmt.Sprintf("%d:%d", d.Major, d.Minor)
}

// blkio is linux.resources.blockIO, checked, for either hierarchy.
type blkio struct {
	weight, leaf uint16
	devices      []devWeight
	throttles    []throttle
}

// devWeight is one weightDevice entry; field names it in errors.
type devWeight struct {
	field, dev string
	w, leaf    uint16
}

// throttle is one throttle*Device entry with its v1 file and io.max key.
type throttle struct {
	field, dev, v1file, v2key string
	rate                      uint64
}

const blockIOField = res + "blockIO."

func (p *planner) blockIO(b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	const f = blockIOField
	bio := blkio{weight: p.weight(f+"weight", b.Weight), leaf: p.weight(f+"leafWeight", b.LeafWeight)}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf("%sweightDevice[%d]", f, i)
		dw := devWeight{field: field, dev: p.device(field, wd.LinuxBlockIODevice)}
		dw.w = p.weight(field+".weight", wd.Weight)
		dw.leaf = p.weight(field+".leafWeight", wd.LeafWeight)
		bio.devices = append(bio.devices, dw)
	}
	for _, t := range []struct {
		name, v1file, v2key string
		list                []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	} {
		for i, td := range t.list {
			field := fmt.Sprintf("%s%s[%d]", f, t.name, i)
			bio.throttles = append(bio.throttles, throttle{field, p.device(field, td.LinuxBlockIODevice), t.v1file, t.v2key, td.Rate})
		}
	}
	switch {
	case bio.weight == 0 && bio.leaf == 0 && len(bio.devices) == 0 && len(bio.throttles) == 0:
	case p.v2:
		p.ioV2(bio)
	default:
		p.blkioV1(bio)
	}
}

// ioV2 plans blockIO on cgroup2's io controller.
func (p *planner) ioV2(bio blkio) {
	const f = blockIOField
	if bio.leaf != 0 {
		p.bad(f+"leafWeight", "cgroup2 has no leaf weight")
	}
	for _, dw := range bio.devices {
		if dw.leaf != 0 {
			p.bad(dw.field+".leafWeight", "cgroup2 has no leaf weight")
		}
	}
	dir, ok := p.dir("io", f[:len(f)-1])
	if !ok {
		return
	}
	// BFQ's weight has the blkio scale; io.weight (the iocost
	// controller's) has 1-10000 and takes runc's conversion.
	if bio.weight != 0 {
		p.add(step{field: f + "weight", dir: dir, file: "io.bfq.weight", value: utoa(uint64(bio.weight)),
			alt: "io.weight", altValue: utoa(libcg.ConvertBlkIOToIOWeightValue(bio.weight))})
	}
	for _, dw := range bio.devices {
		if dw.w != 0 {
			p.add(step{field: dw.field + ".weight", dir: dir, file: "io.bfq.weight", value: dw.dev + " " + utoa(uint64(dw.w)),
				alt: "io.weight", altValue: dw.dev + " " + utoa(libcg.ConvertBlkIOToIOWeightValue(dw.w))})
		}
	}
	for _, t := range bio.throttles {
		rate := "max" // v1 takes 0 as no limit
		if t.rate != 0 {
			rate = utoa(t.rate)
		}
		p.add(step{field: t.field, dir: dir, file: "io.max", value: t.dev + " " + t.v2key + "=" + rate})
	}
}

// blkioV1 plans blockIO on the v1 blkio hierarchy: CFQ's files if the
// kernel still has them, else BFQ's.
func (p *planner) blkioV1(bio blkio) {
	const f = blockIOField
	dir, ok := p.dir("blkio", f[:len(f)-1])
	if !ok {
		return
	}
	if bio.weight != 0 {
		p.add(step{field: f + "weight", dir: dir, file: "blkio.weight", value: utoa(uint64(bio.weight)),
			alt: "blkio.bfq.weight", altValue: utoa(uint64(bio.weight))})
	}
	if bio.leaf != 0 {
		p.add(step{field: f + "leafWeight", dir: dir, file: "blkio.leaf_weight", value: utoa(uint64(bio.leaf))})
	}
	for _, dw := range bio.devices {
		if dw.w != 0 {
			v := dw.dev + " " + utoa(uint64(dw.w))
			p.add(step{field: dw.field + ".weight", dir: dir, file: "blkio.weight_device", value: v, alt: "blkio.bfq.weight_device", altValue: v})
		}
		if dw.leaf != 0 {
			p.add(step{field: dw.field + ".leafWeight", dir: dir, file: "blkio.leaf_weight_device", value: dw.dev + " " + utoa(uint64(dw.leaf))})
		}
	}
	for _, t := range bio.throttles {
		p.add(step{field: t.field, dir: dir, file: t.v1file, value: t.dev + " " + utoa(t.rate)})
	}
}
