// Package specjson decodes an OCI config.json into specs.Spec without
// reflection.
//
// encoding/json builds its per-type caches on the first Unmarshal of a
// process, and for specs.Spec (some 90 struct types) that costs ~0.85 ms of
// CPU and 0.5 MiB of heap on every `rt create` and `rt run`: more than the
// rest of the parse and validation together (docs/performance.md). Parse
// runs code generated from the specs-go types instead (spec_decode.go, made
// by internal/gen), and hands every input it is not sure about to
// encoding/json: a key that only matches a field when case is folded, a
// duplicate key, a string with a surrogate escape or invalid UTF-8, a number
// a field cannot hold, a type mismatch, a syntax error. So the result is
// always exactly encoding/json's, and so are the errors; FuzzParse checks the
// first against encoding/json.
package specjson

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/gen

// Parse decodes data as encoding/json.Unmarshal would into a new
// specs.Spec, with encoding/json's errors.
func Parse(data []byte) (*specs.Spec, error) {
	if s, ok := parseFast(data); ok {
		return s, nil
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// parseFast is the generated decoder alone; ok is false where it leaves the
// input to encoding/json.
func parseFast(data []byte) (*specs.Spec, bool) {
	var s specs.Spec
	d := decoder{data: data}
	if decSpec(&d, &s) != nil {
		return nil, false
	}
	d.space()
	return &s, d.off == len(d.data)
}

// errFallback stops the generated decoder: encoding/json decides.
var errFallback = errors.New("specjson: left to encoding/json")

// maxDepth bounds the nesting of values the decoder skips; deeper input
// goes to encoding/json, which has its own limit.
const maxDepth = 512

// intBits is the size of int and uint, for the generated decoders.
const intBits = strconv.IntSize

// decoder reads one JSON text. Every method either consumes a complete,
// valid value or returns errFallback.
type decoder struct {
	data []byte
	off  int
}

func (d *decoder) space() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// next is the first byte of the next token, 0 at the end.
func (d *decoder) next() byte {
	d.space()
	if d.off == len(d.data) {
		return 0
	}
	return d.data[d.off]
}

// literal consumes lit if it is next.
func (d *decoder) literal(lit string) bool {
	if d.next() != lit[0] || len(d.data)-d.off < len(lit) || string(d.data[d.off:d.off+len(lit)]) != lit {
		return false
	}
	d.off += len(lit)
	return true
}

// null consumes a null if one is next.
func (d *decoder) null() bool { return d.literal("null") }

// list reads what lies between open and close: nothing, or members that
// member reads, separated by commas.
func (d *decoder) list(open, close byte, member func() error) error {
	if d.next() != open {
		return errFallback
	}
	d.off++
	if d.next() == close {
		d.off++
		return nil
	}
	for {
		if err := member(); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.off++
		case close:
			d.off++
			return nil
		default:
			return errFallback
		}
	}
}

// object reads an object, calling field for each key with the decoder at
// the value, which field must consume. Keys must be plain ASCII without
// escapes: anything else may need encoding/json's case folding.
func (d *decoder) object(field func(key []byte) error) error {
	return d.list('{', '}', func() error {
		key, err := d.plainKey()
		if err != nil {
			return err
		}
		return field(key)
	})
}

// plainKey reads a key and its colon.
func (d *decoder) plainKey() ([]byte, error) {
	if d.next() != '"' {
		return nil, errFallback
	}
	start := d.off + 1
	for i := start; i < len(d.data); i++ {
		c := d.data[i]
		if c == '"' {
			d.off = i + 1
			if d.next() != ':' {
				return nil, errFallback
			}
			d.off++
			return d.data[start:i], nil
		}
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return nil, errFallback
		}
	}
	return nil, errFallback
}

// mapObject reads an object whose keys are map keys: any string.
func (d *decoder) mapObject(entry func(key string) error) error {
	return d.list('{', '}', func() error {
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.next() != ':' {
			return errFallback
		}
		d.off++
		return entry(key)
	})
}

// array reads an array, calling elem with the decoder at each element.
func (d *decoder) array(elem func() error) error {
	return d.list('[', ']', elem)
}

// once marks field bit i of a struct seen, reporting whether it was not
// already: encoding/json merges a repeated key into what the first one set,
// in ways not worth copying.
func once(seen *uint64, i uint) bool {
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// fields reads a struct whose JSON keys are names (at most 64), calling
// field with the index of each key found; null leaves the struct as it is.
// A repeated key, or one unknown but for case, is encoding/json's to decide.
func (d *decoder) fields(names []string, field func(i int) error) error {
	if d.null() {
		return nil
	}
	var seen uint64
	return d.object(func(key []byte) error {
		for i, n := range names {
			if n == string(key) {
				if !once(&seen, uint(i)) {
					return errFallback
				}
				return field(i)
			}
		}
		return d.unknown(key, names)
	})
}

// unknown skips the value of a key that names no field of a struct whose
// fields are names. A key that matches one when case is folded is
// encoding/json's to decide.
func (d *decoder) unknown(key []byte, names []string) error {
	for _, n := range names {
		if len(n) == len(key) && asciiEqualFold(n, key) {
			return errFallback
		}
	}
	return d.skip(0)
}

func asciiEqualFold(name string, key []byte) bool {
	for i := range len(key) {
		a, b := name[i], key[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// decPtr, decSlice and decMap read a pointer, slice or string-keyed map
// whose element elem reads; the generated decoders call them so that each
// container type is one line, not a copy of the loop.
//
//go:noinline
func decPtr[T any](d *decoder, v **T, elem func(*decoder, *T) error) error {
	if d.null() {
		*v = nil
		return nil
	}
	if *v == nil {
		*v = new(T)
	}
	return elem(d, *v)
}

//go:noinline
func decSlice[T any](d *decoder, v *[]T, elem func(*decoder, *T) error) error {
	if d.null() {
		*v = nil
		return nil
	}
	s := []T{}
	err := d.array(func() error {
		var e T
		if err := elem(d, &e); err != nil {
			return err
		}
		s = append(s, e)
		return nil
	})
	*v = s
	return err
}

//go:noinline
func decMap[K ~string, T any](d *decoder, v *map[K]T, elem func(*decoder, *T) error) error {
	if d.null() {
		*v = nil
		return nil
	}
	if *v == nil {
		*v = map[K]T{}
	}
	m := *v
	return d.mapObject(func(k string) error {
		var e T
		if err := elem(d, &e); err != nil {
			return err
		}
		m[K(k)] = e
		return nil
	})
}
