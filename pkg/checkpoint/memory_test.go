package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/pagemap"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
)

// field5 is the wire form of CRIU 4.2's nr_pages (uint64, field 5), which
// go-criu v7's PagemapEntry has no field for.
func field5(nr uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, pagemapNrPagesField, protowire.VarintType), nr)
}

// pagemapEntries42 is pagemapEntries as CRIU 4.2 writes them: the old
// uint32 count (now compat_nr_pages, still required) 0, the count in
// field 5.
func pagemapEntries42(pagesID uint32, nr ...uint64) []proto.Message {
	msgs := []proto.Message{&pagemap.PagemapHead{PagesId: proto.Uint32(pagesID)}}
	for i, n := range nr {
		pe := &pagemap.PagemapEntry{Vaddr: proto.Uint64(uint64(i) << 20), NrPages: proto.Uint32(0), Flags: proto.Uint32(4)}
		pe.ProtoReflect().SetUnknown(field5(n))
		msgs = append(msgs, pe)
	}
	return msgs
}

func TestSumMemory(t *testing.T) {
	tests := []struct {
		name     string
		pageSize uint64
		files    map[string]int // pages-*.img and their sizes
		maps     map[string][]uint32
		maps42   map[string][]uint64 // pagemaps in CRIU 4.2's layout
		want     api.ImageMemory
	}{
		{"nothing", 4096, nil, nil, nil, api.ImageMemory{}},
		{"pages and maps", 4096, map[string]int{"pages-1.img": 8192, "pages-2.img": 4096},
			map[string][]uint32{"pagemap-1.img": {1, 1}, "pagemap-2.img": {1}, "pagemap-shmem-9.img": {4}}, nil,
			api.ImageMemory{Pages: 3, Bytes: 12288, MappedPages: 7}},
		{"CRIU 4.2's pagemaps", 4096, map[string]int{"pages-1.img": 8192, "pages-2.img": 4096},
			nil, map[string][]uint64{"pagemap-1.img": {1, 1}, "pagemap-2.img": {1}, "pagemap-shmem-9.img": {4}},
			api.ImageMemory{Pages: 3, Bytes: 12288, MappedPages: 7}},
		{"a mapping past 2^32 pages (CRIU 4.2)", 4096, nil, nil, map[string][]uint64{"pagemap-1.img": {1 << 33, 1}},
			api.ImageMemory{MappedPages: 1<<33 + 1}},
		{"64 KiB pages", 65536, map[string]int{"pages-1.img": 131072}, map[string][]uint32{"pagemap-1.img": {2}}, nil,
			api.ImageMemory{Pages: 2, Bytes: 131072, MappedPages: 2}},
		{"other files ignored", 4096, map[string]int{"pages.txt": 4096, "tmpfs-dev-1.tar.gz.img": 4096}, nil, nil, api.ImageMemory{}},
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
			for name, nr := range tt.maps42 {
				writeImage(t, dir, name, "PAGEMAP", pagemapEntries42(1, nr...)...)
			}
			got, err := sumMemory(dir, tt.pageSize)
			if err != nil || got != tt.want {
				t.Errorf("sumMemory = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestPagemapNrPages: an entry's count is field 5 when CRIU wrote it
// (4.2), else field 2 (4.1 and older), whatever other unknown fields a
// newer CRIU adds around it.
func TestPagemapNrPages(t *testing.T) {
	other := protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), []byte("x"))
	tests := []struct {
		name    string
		field2  uint32
		unknown []byte
		want    uint64
		wantErr string
	}{
		{"CRIU 4.1: field 2", 3, nil, 3, ""},
		{"CRIU 4.2: field 5, field 2 is 0", 0, field5(3), 3, ""},
		{"field 5 wins over field 2", 7, field5(3), 3, ""},
		{"past uint32", 0, field5(1 << 40), 1 << 40, ""},
		{"among other unknown fields", 0, append(append(other, field5(5)...), other...), 5, ""},
		{"field 5 twice: the last", 0, append(field5(1), field5(2)...), 2, ""},
		{"field 5 of another wire type is not a count", 4, protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), []byte{1}), 4, ""},
		{"truncated", 0, field5(1 << 40)[:3], 0, "nr_pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := &pagemap.PagemapEntry{Vaddr: proto.Uint64(0x1000), NrPages: proto.Uint32(tt.field2)}
			pe.ProtoReflect().SetUnknown(tt.unknown)
			got, err := pagemapNrPages(pe)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "0x1000") {
					t.Errorf("pagemapNrPages = %d, %v; want an error naming the entry and %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("pagemapNrPages = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
