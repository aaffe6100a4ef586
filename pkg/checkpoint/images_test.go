package checkpoint

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/magic"
)

// TestDecodeImageSizes: an entry's size is checked against what the file
// holds before anything is allocated for it (crit allocated it: 4 GiB for
// the 10 bytes here), and a short entry is an error, not a shorter one.
func TestDecodeImageSizes(t *testing.T) {
	inv := binary.LittleEndian.AppendUint32(nil, uint32(magic.LoadMagic().ByName["INVENTORY"]))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"size of 4 GiB", append(binary.LittleEndian.AppendUint32(inv, 0xfffffff0), 8, 2), "entry 0: size 4294967280, but 2 bytes left"},
		{"short entry", append(binary.LittleEndian.AppendUint32(inv, 3), 8, 2), "entry 0: size 3, but 2 bytes left"},
		{"half a size", append(inv, 1, 0), "entry 0: 2 bytes left, where its size should be"},
		{"no magic", []byte{1, 2}, "2 bytes, where a magic should be"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeImage(tt.data, &inventory.InventoryEntry{})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: %d bytes allocated", tt.name, n)
		}
	}
	// An empty image (the magic alone) has no entry.
	if msgs, err := decodeImage(inv, &inventory.InventoryEntry{}); err != nil || len(msgs) != 0 {
		t.Errorf("magic alone: %d entries, %v", len(msgs), err)
	}
}
