package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
)

func TestCreateOpenRemove(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "root"))
	h, err := s.Create("c1")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := &State{ID: "c1", Bundle: "/b", Created: time.Unix(1700000000, 0).UTC(), Ready: true, InitPid: 42}
	if err := h.Save(want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	h.Close()

	if _, err := s.Create("c1"); !errors.Is(err, api.ErrExist) {
		t.Fatalf("second Create = %v, want ErrExist", err)
	}
	got, err := s.Read("c1")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got.Bundle != want.Bundle || got.InitPid != 42 || !got.Created.Equal(want.Created) || !got.Ready {
		t.Fatalf("Read = %+v, want %+v", got, want)
	}
	h, err = s.Open("c1")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := h.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	h.Close()
	for name, f := range map[string]func() error{
		"Open": func() error { _, err := s.Open("c1"); return err },
		"Read": func() error { _, err := s.Read("c1"); return err },
	} {
		if err := f(); !errors.Is(err, api.ErrNotExist) {
			t.Errorf("%s after Remove = %v, want ErrNotExist", name, err)
		}
	}
	if msg := fmt.Sprint(func() error { _, err := s.Read("c1"); return err }()); msg != `container "c1" does not exist` {
		t.Errorf("message = %q", msg)
	}
}

func TestInvalidIDsBuildNoPath(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	for _, id := range []string{"", "..", "../x", "a/b", string(make([]byte, 1000))} {
		if _, err := s.Create(id); err == nil {
			t.Errorf("Create(%q) succeeded", id)
		}
		if _, err := s.Dir(id); !errors.Is(err, api.ErrInvalidID) && !errors.Is(err, api.ErrEmptyID) {
			t.Errorf("Dir(%q) = %v", id, err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Fatalf("invalid ids created %d entries in the root", len(entries))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "x")); err == nil {
		t.Fatal("../x escaped the root")
	}
}

func TestListSkipsForeignEntries(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	for _, id := range []string{"b", "a"} {
		h, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	os.WriteFile(filepath.Join(root, "file"), nil, 0o600)
	os.Mkdir(filepath.Join(root, "bad name"), 0o700)
	ids, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("List = %v, want [a b]", ids)
	}
	if ids, err := New(filepath.Join(root, "missing")).List(); err != nil || len(ids) != 0 {
		t.Fatalf("List of a missing root = %v, %v", ids, err)
	}
}

func TestInterruptedCreateIsReadable(t *testing.T) {
	s := New(t.TempDir())
	h, err := s.Create("half")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	st, err := s.Read("half")
	if err != nil || st.ID != "half" || st.Ready {
		t.Fatalf("Read of a dir with no state = %+v, %v", st, err)
	}
}

func TestCorruptState(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	h, _ := s.Create("c")
	h.Close()
	os.WriteFile(filepath.Join(root, "c", StateFile), []byte("{"), 0o600)
	if _, err := s.Read("c"); err == nil {
		t.Fatal("corrupt state read without error")
	}
	os.WriteFile(filepath.Join(root, "c", StateFile), []byte(`{"id":"other"}`), 0o600)
	if _, err := s.Read("c"); err == nil {
		t.Fatal("state naming another container read without error")
	}
}

// TestLockSerialises: a second Open waits until the first handle closes.
func TestLockSerialises(t *testing.T) {
	s := New(t.TempDir())
	h, err := s.Create("c")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		h2, err := s.Open("c")
		if err != nil {
			t.Error(err)
			got <- time.Time{}
			return
		}
		got <- time.Now()
		h2.Close()
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	h.Close()
	if at := <-got; at.Before(released) {
		t.Fatal("second Open got the lock while the first was held")
	}
}

// TestOpenAfterConcurrentRemove: a command that waited for a delete sees the
// container gone, not a half-removed directory.
func TestOpenAfterConcurrentRemove(t *testing.T) {
	s := New(t.TempDir())
	h, err := s.Create("c")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		h2, err := s.Open("c")
		if err == nil {
			h2.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if err := <-done; !errors.Is(err, api.ErrNotExist) {
		t.Fatalf("Open waiting on a deleted container = %v, want ErrNotExist", err)
	}
}

// TestSaveIsAtomic: readers racing with writers always decode a whole state.
func TestSaveIsAtomic(t *testing.T) {
	s := New(t.TempDir())
	h, err := s.Create("c")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	big := map[string]string{}
	for i := 0; i < 500; i++ {
		big[fmt.Sprint("key", i)] = "some value that makes the file larger than one write"
	}
	if err := h.Save(&State{ID: "c", Annotations: big}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := h.Save(&State{ID: "c", InitPid: i, Annotations: big}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 300; i++ {
		st, err := s.Read("c")
		if err != nil || len(st.Annotations) != len(big) {
			t.Fatalf("torn read %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	entries, _ := os.ReadDir(h.Dir)
	if len(entries) != 1 {
		t.Fatalf("state dir holds %d entries after saves, want only %s", len(entries), StateFile)
	}
}

// encodeStateCase is a state to encode.
type encodeStateCase struct {
	name string
	st   State
}

// encodeStateCases are TestEncodeStateSameAsJSON's states, and
// FuzzReadState's seeds.
func encodeStateCases(t testing.TB) []encodeStateCase {
	// As rt writes it: compact, HTML characters escaped (encodeState passes
	// a spec it read on as it is).
	loaded := &SpecRecord{}
	if err := loaded.UnmarshalJSON([]byte(`{"ociVersion":"1.0.2","hostname":"a\u003cb"}`)); err != nil {
		t.Fatal(err)
	}
	return []encodeStateCase{
		{"no spec", State{ID: "a", InitPid: 7, CgroupPaths: map[string]string{"cpu": "/x"}}},
		{"decoded spec", State{ID: "b", Spec: RecordSpec(&specs.Spec{Version: "1.0.2", Hostname: "h&<>", Process: &specs.Process{Args: []string{"sh"}}})}},
		{"spec as read", State{ID: "c", Ready: true, Spec: loaded}},
		{"zero", State{}},
	}
}

func TestEncodeStateSameAsJSON(t *testing.T) {
	for _, tt := range encodeStateCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(&tt.st)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeState(&tt.st)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encodeState:\n got  %s\n want %s", got, want)
			}
		})
	}
}
