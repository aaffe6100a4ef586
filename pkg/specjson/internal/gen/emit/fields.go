package emit

import (
	"reflect"
	"slices"
	"strings"
)

// field is one JSON key of a struct: its name, Go type and the selector
// path from the struct (A.B for a field promoted from embedded A).
type field struct {
	name      string
	typ       reflect.Type
	path      string
	depth     int
	tagged    bool
	omitEmpty bool
}

// fields lists t's JSON keys in field order by encoding/json's rules: the
// tag's name or the Go name, "-" skipped, unexported fields skipped, the
// fields of an untagged embedded struct promoted, and of several fields
// with one name the shallowest wins, then the only tagged one, else none.
func (g *gen) fields(t reflect.Type) []field {
	var all []field
	g.collect(t, "", 0, &all)
	var out []field
	for _, f := range all {
		if dominant(f, all) {
			out = append(out, f)
		}
	}
	return out
}

func (g *gen) collect(t reflect.Type, prefix string, depth int, out *[]field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if !sf.IsExported() && ft.Kind() != reflect.Struct {
				continue
			}
			if name == "" && ft.Kind() == reflect.Struct {
				if sf.Type.Kind() == reflect.Pointer || !sf.IsExported() {
					// Needs an allocation or an unexported selector.
					g.fail("%s: embedded %s not supported", t, sf.Type)
					return
				}
				g.collect(ft, prefix+sf.Name+".", depth+1, out)
				continue
			}
		} else if !sf.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = sf.Name
		}
		omitEmpty := slices.Contains(strings.Split(opts, ","), "omitempty")
		if slices.Contains(strings.Split(opts, ","), "string") || slices.Contains(strings.Split(opts, ","), "omitzero") {
			g.fail("%s.%s: json option %q not supported", t, sf.Name, opts)
		}
		*out = append(*out, field{name: name, typ: sf.Type, path: prefix + sf.Name, depth: depth, tagged: tagged, omitEmpty: omitEmpty})
	}
}

// dominant reports whether f is the field encoding/json uses for its name.
func dominant(f field, all []field) bool {
	minDepth := f.depth
	for _, o := range all {
		if o.name == f.name {
			minDepth = min(minDepth, o.depth)
		}
	}
	if f.depth != minDepth {
		return false
	}
	var rivals, tagged int
	for _, o := range all {
		if o.name == f.name && o.depth == minDepth {
			rivals++
			if o.tagged {
				tagged++
			}
		}
	}
	switch {
	case rivals == 1:
		return true
	case tagged == 1:
		return f.tagged
	}
	return false
}
