package specjson

import (
	"cmp"
	"encoding/json"
	"slices"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Marshal encodes s byte for byte as encoding/json.Marshal does, without
// building encoding/json's per-type caches.
func Marshal(s *specs.Spec) ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	e := encoder{buf: make([]byte, 0, 4096)}
	encSpec(&e, s)
	if e.err == nil {
		return e.buf, nil
	}
	if e.err != errFallback {
		return nil, e.err
	}
	return json.Marshal(s)
}

// encoder collects the generated encoders' output; err stops nothing (the
// output is dropped when it is set).
type encoder struct {
	buf []byte
	err error
}

func (e *encoder) null() { e.buf = append(e.buf, "null"...) }

// key writes an object key, quoted and with its colon, after a comma
// unless it is the first. Not inlined: it is called once per field of
// every struct, and inlined it made the encoders twice the size (RSS).
//
//go:noinline
func (e *encoder) key(first *bool, quoted string) {
	if !*first {
		e.buf = append(e.buf, ',')
	}
	*first = false
	e.buf = append(e.buf, quoted...)
}

func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, "true"...)
	} else {
		e.buf = append(e.buf, "false"...)
	}
}

// any writes an interface value the way encoding/json does, with it.
func (e *encoder) any(v any) {
	if v == nil {
		e.null()
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil || e.err == errFallback {
			e.err = err
		}
		return
	}
	e.buf = append(e.buf, b...)
}

const hex = "0123456789abcdef"

// string writes s quoted as encoding/json does: HTML characters, controls,
// U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func (e *encoder) string(s string) {
	dst := append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	e.buf = append(dst, '"')
}

// sortedKeys is m's keys in encoding/json's order.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return cmp.Compare(a, b) })
	return keys
}

// encPtr, encSlice and encMap write a pointer, slice or string-keyed map
// whose element elem writes (see decPtr).
//
//go:noinline
func encPtr[T any](e *encoder, v **T, elem func(*encoder, *T)) {
	if *v == nil {
		e.null()
		return
	}
	elem(e, *v)
}

//go:noinline
func encSlice[T any](e *encoder, v *[]T, elem func(*encoder, *T)) {
	if *v == nil {
		e.null()
		return
	}
	e.buf = append(e.buf, '[')
	for i := range *v {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		elem(e, &(*v)[i])
	}
	e.buf = append(e.buf, ']')
}

//go:noinline
func encMap[K ~string, T any](e *encoder, v *map[K]T, elem func(*encoder, *T)) {
	if *v == nil {
		e.null()
		return
	}
	e.buf = append(e.buf, '{')
	for i, k := range sortedKeys(*v) {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.string(string(k))
		e.buf = append(e.buf, ':')
		x := (*v)[k]
		elem(e, &x)
	}
	e.buf = append(e.buf, '}')
}
