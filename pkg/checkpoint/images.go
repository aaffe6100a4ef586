package checkpoint

// Decoding CRIU's image files for inspect. The files are untrusted (an
// imported archive, any directory inspect is given), so rt decodes them
// itself rather than with go-criu's crit, which decodes before it checks
// what kind of image a file is, allocates the size each entry's header
// claims (up to 4 GiB for a 10-byte file) and takes a short read for a
// whole entry.

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v7/magic"
	"google.golang.org/protobuf/proto"
)

// criuMagic is CRIU's table of image magics, built once.
var criuMagic = sync.OnceValue(magic.LoadMagic)

// readImage decodes every entry of the CRIU image file dir/name as entry's
// type, once its magic says it is an image of that type. A missing file's
// error wraps fs.ErrNotExist.
func readImage(dir, name string, entry proto.Message) ([]proto.Message, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	msgs, err := decodeImage(data, entry)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return msgs, nil
}

// decodeImage decodes an image file as CRIU writes it: the file's magic
// (after CRIU's common or service magic), then each entry as a
// little-endian 32-bit size and that many bytes of protobuf. A pagemap's
// first entry is its head (entry), the others are pagemap entries. A size
// beyond the end of the file is an error, checked before anything is
// allocated for it.
func decodeImage(data []byte, entry proto.Message) ([]proto.Message, error) {
	kind, data, err := imageMagic(data)
	if err != nil {
		return nil, err
	}
	if want := string(entry.ProtoReflect().Descriptor().Name()); !magicMatches(kind, want) {
		return nil, fmt.Errorf("it holds a %s image", kind)
	}
	var out []proto.Message
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("entry %d: %d bytes left, where its size should be", len(out), len(data))
		}
		size := binary.LittleEndian.Uint32(data)
		if data = data[4:]; uint64(size) > uint64(len(data)) {
			return nil, fmt.Errorf("entry %d: size %d, but %d bytes left", len(out), size, len(data))
		}
		msg := entry.ProtoReflect().New().Interface()
		if kind == "PAGEMAP" && len(out) > 0 {
			msg = &pagemap.PagemapEntry{}
		}
		if err := proto.Unmarshal(data[:size], msg); err != nil {
			return nil, fmt.Errorf("entry %d: %w", len(out), err)
		}
		out, data = append(out, msg), data[size:]
	}
	return out, nil
}

// imageMagic returns the name of the image's magic (crit's, "PSTREE") and
// the bytes after it.
func imageMagic(data []byte) (string, []byte, error) {
	magics := criuMagic()
	var value uint64
	for range 2 {
		if len(data) < 4 {
			return "", nil, fmt.Errorf("%d bytes, where a magic should be", len(data))
		}
		value, data = uint64(binary.LittleEndian.Uint32(data)), data[4:]
		if value != magics.ByName["IMG_COMMON"] && value != magics.ByName["IMG_SERVICE"] {
			break
		}
	}
	name, ok := magics.ByValue[value]
	if !ok {
		return "", nil, fmt.Errorf("unknown magic %#x", value)
	}
	return name, data, nil
}
