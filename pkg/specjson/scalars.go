package specjson

// The decoder's scalars: strings (escapes and all), numbers, booleans, and
// the skipping of a value no field takes.

import (
	"strconv"
	"unicode/utf8"
)

// str reads a string. Escapes other than a surrogate are decoded; invalid
// UTF-8, which encoding/json would replace, falls back.
func (d *decoder) str() (string, error) {
	raw, plain, err := d.rawString()
	switch {
	case err != nil:
		return "", err
	case plain:
		return string(raw), nil
	}
	return unescape(raw)
}

func unescape(raw []byte) (string, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				return "", errFallback
			}
			out = append(out, raw[i:i+n]...)
			i += n
			continue
		}
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", errFallback
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(raw) {
				return "", errFallback
			}
			v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
			if err != nil || (v >= 0xd800 && v < 0xe000) {
				return "", errFallback
			}
			out = utf8.AppendRune(out, rune(v))
			i += 6
			continue
		default:
			return "", errFallback
		}
		i += 2
	}
	return string(out), nil
}

// number reads a number's text, which must follow JSON's grammar.
func (d *decoder) number() (string, error) {
	d.space()
	start, i := d.off, d.off
	digits := func() bool {
		j := i
		for i < len(d.data) && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case !digits():
		return "", errFallback
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		if !digits() {
			return "", errFallback
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if !digits() {
			return "", errFallback
		}
	}
	d.off = i
	return string(d.data[start:i]), nil
}

// int reads an integer that fits in bits.
func (d *decoder) int(bits int) (int64, error) {
	s, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, errFallback
	}
	return v, nil
}

// uint reads an unsigned integer that fits in bits.
func (d *decoder) uint(bits int) (uint64, error) {
	s, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, errFallback
	}
	return v, nil
}

func (d *decoder) bool() (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	}
	return false, errFallback
}

// skip reads any value, checking it as strictly as encoding/json does.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return errFallback
	}
	switch d.next() {
	case '{':
		return d.mapObject(func(string) error { return d.skip(depth + 1) })
	case '[':
		return d.array(func() error { return d.skip(depth + 1) })
	case '"':
		return d.skipString()
	case 't':
		if d.literal("true") {
			return nil
		}
	case 'f':
		if d.literal("false") {
			return nil
		}
	case 'n':
		if d.null() {
			return nil
		}
	default:
		_, err := d.number()
		return err
	}
	return errFallback
}

// skipString reads a string whose content does not matter.
func (d *decoder) skipString() error {
	_, _, err := d.rawString()
	return err
}

// rawString reads a string as JSON's grammar has it (no controls, valid
// escapes; invalid UTF-8 is valid JSON) and returns what lies between the
// quotes, and whether that is plain: ASCII without escapes, the string
// itself.
func (d *decoder) rawString() (raw []byte, plain bool, err error) {
	if d.next() != '"' {
		return nil, false, errFallback
	}
	start := d.off + 1
	plain = true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.off = i + 1
			return d.data[start:i], plain, nil
		case c < 0x20:
			return nil, false, errFallback
		case c >= utf8.RuneSelf:
			plain = false
		case c == '\\':
			plain = false
			if i+1 >= len(d.data) {
				return nil, false, errFallback
			}
			switch d.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(d.data) {
					return nil, false, errFallback
				}
				if _, err := strconv.ParseUint(string(d.data[i+2:i+6]), 16, 16); err != nil {
					return nil, false, errFallback
				}
				i += 5
			default:
				return nil, false, errFallback
			}
		}
	}
	return nil, false, errFallback
}
