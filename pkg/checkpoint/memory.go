package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/pagemap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rtkit/rt/pkg/api"
)

// sumMemory adds up the pages stored in dir (pages-*.img, whose sizes are
// whole pages) and the pages its pagemaps list (pagemap-*.img, the
// per-process and shared-memory ones), pageSize bytes each.
func sumMemory(dir string, pageSize uint64) (api.ImageMemory, error) {
	var m api.ImageMemory
	pages, err := filepath.Glob(filepath.Join(dir, "pages-*.img"))
	if err != nil {
		return m, err
	}
	for _, p := range pages {
		fi, err := os.Stat(p)
		if err != nil {
			return m, fmt.Errorf("memory: %w", err)
		}
		m.Bytes += uint64(fi.Size())
	}
	m.Pages = m.Bytes / pageSize
	maps, err := filepath.Glob(filepath.Join(dir, "pagemap-*.img"))
	if err != nil {
		return m, err
	}
	for _, p := range maps {
		msgs, err := readImage(dir, filepath.Base(p), &pagemap.PagemapHead{})
		if err != nil {
			return m, fmt.Errorf("memory: %w", err)
		}
		for _, e := range msgs {
			// The first entry is the head (which pages-N.img holds
			// the pages); the rest are pagemap entries.
			pe, ok := e.(*pagemap.PagemapEntry)
			if !ok {
				continue
			}
			n, err := pagemapNrPages(pe)
			if err != nil {
				return m, fmt.Errorf("memory: %s: %w", filepath.Base(p), err)
			}
			m.MappedPages += n
		}
	}
	return m, nil
}

// pagemapNrPagesField is pagemap_entry's page count since CRIU 4.2: a
// uint64 nr_pages (field 5), so that one entry can cover a huge mapping.
// Field 2, the uint32 that go-criu v7 calls NrPages, was renamed
// compat_nr_pages: CRIU 4.2 still writes it (it is required) but as 0.
const pagemapNrPagesField protowire.Number = 5

// pagemapNrPages is the number of pages a pagemap entry covers, taken as
// CRIU's own reader takes it (init_compat_pagemap_entry in criu/pagemap.c):
// field 5 when present, else field 2 (CRIU 4.1 and older). go-criu v7's
// protobufs predate field 5, so proto.Unmarshal left it among the entry's
// unknown fields, where it is read here.
func pagemapNrPages(pe *pagemap.PagemapEntry) (uint64, error) {
	nr := uint64(pe.GetNrPages())
	for b := pe.ProtoReflect().GetUnknown(); len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("pagemap entry at %#x: %w", pe.GetVaddr(), protowire.ParseError(n))
		}
		b = b[n:]
		if num == pagemapNrPagesField && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, fmt.Errorf("pagemap entry at %#x: nr_pages: %w", pe.GetVaddr(), protowire.ParseError(n))
			}
			// A scalar field repeated: protobuf keeps the last.
			nr, b = v, b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, fmt.Errorf("pagemap entry at %#x: field %d: %w", pe.GetVaddr(), num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nr, nil
}
