package fs

import (
	"os"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.hugepageLimits, with the reservation limits where the kernel has them.

func TestHugetlbV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "hugetlb", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
			{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 0},
		}}, want: []string{
			"hugetlb/c1/hugetlb.2MB.limit_in_bytes=1073741824",
			"hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes=1073741824",
			"hugetlb/c1/hugetlb.1GB.limit_in_bytes=0",
		}},
	})
}

func TestHugetlbV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
		{name: "hugetlb", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
			{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 1 << 30},
		}}, want: with(enable("hugetlb"),
			c1+"hugetlb.2MB.max=1073741824",
			c1+"hugetlb.2MB.rsvd.max=1073741824",
			c1+"hugetlb.1GB.max=1073741824")},
	})
}

func TestHugetlbRefused(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "hugepage size", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "4MB", Limit: 1}}},
			want: `linux.resources.hugepageLimits[0].pageSize: "4MB" is not a huge page size of this host (1GB 2MB)`},
	})
}

func TestHugePageSizes(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"hugepages-64kB", "hugepages-2048kB", "hugepages-1048576kB", "not-a-size"} {
		if err := os.Mkdir(dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := hugePageSizes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1GB", "2MB", "64KB"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
