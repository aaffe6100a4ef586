package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rtkit/rt/pkg/api"
)

func TestSumMemory(t *testing.T) {
	tests := []struct {
		name     string
		pageSize uint64
		files    map[string]int // pages-*.img and their sizes
		maps     map[string][]uint32
		want     api.ImageMemory
	}{
		{"nothing", 4096, nil, nil, api.ImageMemory{}},
		{"pages and maps", 4096, map[string]int{"pages-1.img": 8192, "pages-2.img": 4096},
			map[string][]uint32{"pagemap-1.img": {1, 1}, "pagemap-2.img": {1}, "pagemap-shmem-9.img": {4}},
			api.ImageMemory{Pages: 3, Bytes: 12288, MappedPages: 7}},
		{"64 KiB pages", 65536, map[string]int{"pages-1.img": 131072}, map[string][]uint32{"pagemap-1.img": {2}},
			api.ImageMemory{Pages: 2, Bytes: 131072, MappedPages: 2}},
		{"other files ignored", 4096, map[string]int{"pages.txt": 4096, "tmpfs-dev-1.tar.gz.img": 4096}, nil, api.ImageMemory{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, size := range tt.files {
				os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o600)
			}
			for name, nr := range tt.maps {
				writeImage(t, dir, name, "PAGEMAP", pagemapEntries(1, nr...)...)
			}
			got, err := sumMemory(dir, tt.pageSize)
			if err != nil || got != tt.want {
				t.Errorf("sumMemory = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
