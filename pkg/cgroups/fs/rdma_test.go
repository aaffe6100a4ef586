package fs

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.rdma.

func TestRdmaV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
			"mlx5_1": {HcaObjects: ptr[uint32](1000)}, "mlx5_0": {HcaHandles: ptr[uint32](10), HcaObjects: ptr[uint32](100)},
		}}, want: []string{
			"rdma/c1/rdma.max=mlx5_0 hca_handle=10 hca_object=100",
			"rdma/c1/rdma.max=mlx5_1 hca_handle=max hca_object=1000",
		}},
	})
}

func TestRdmaV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3)}}},
			want: with(enable("rdma"), c1+"rdma.max=mlx5_0 hca_handle=3 hca_object=max")},
	})
}

func TestRdmaRefused(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "rdma device", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"": {}}},
			want: `linux.resources.rdma: "" is not an RDMA device name`},
	})
}
