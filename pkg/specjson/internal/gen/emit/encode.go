package emit

import (
	"bytes"
	"fmt"
	"reflect"
)

// encoder returns the name of t's encoder function, writing it (and those
// it calls) first if needed.
func (g *gen) encoder(t reflect.Type) string {
	return g.function("enc", "%[1]s(e *encoder, %[3]s *%[2]s)", t, g.encoderBody)
}

func (g *gen) encoderBody(b *bytes.Buffer, t reflect.Type) {
	switch t.Kind() {
	case reflect.Struct:
		g.structEncoder(b, t)
	case reflect.Pointer:
		fmt.Fprintf(b, "encPtr(e, v, %s)\n", g.encoder(t.Elem()))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b.WriteString("e.err = errFallback\n") // base64
			break
		}
		fmt.Fprintf(b, "encSlice(e, v, %s)\n", g.encoder(t.Elem()))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			b.WriteString("e.err = errFallback\n")
			break
		}
		fmt.Fprintf(b, "encMap(e, v, %s)\n", g.encoder(t.Elem()))
	case reflect.String:
		b.WriteString("e.string(string(*v))\n")
	case reflect.Bool:
		b.WriteString("e.bool(bool(*v))\n")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString("e.buf = strconv.AppendInt(e.buf, int64(*v), 10)\n")
		g.imports["strconv"] = "strconv"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString("e.buf = strconv.AppendUint(e.buf, uint64(*v), 10)\n")
		g.imports["strconv"] = "strconv"
	case reflect.Interface:
		b.WriteString("e.any(*v)\n")
	default:
		b.WriteString("e.err = errFallback\n")
	}
}

func (g *gen) structEncoder(b *bytes.Buffer, t reflect.Type) {
	fields := g.fields(t)
	if len(fields) == 0 {
		b.WriteString("e.buf = append(e.buf, \"{}\"...)\n")
		return
	}
	b.WriteString("first := true\ne.buf = append(e.buf, '{')\n")
	for _, f := range fields {
		for _, c := range f.name {
			// encoding/json would escape anything else in the key.
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
				g.fail("%s: key %q needs escaping", t, f.name)
			}
		}
		cond := g.nonEmpty(recv(t), f)
		if cond != "" {
			fmt.Fprintf(b, "if %s {\n", cond)
		}
		fmt.Fprintf(b, "e.key(&first, `\"%s\":`)\n%s(e, &%s.%s)\n", f.name, g.encoder(f.typ), recv(t), f.path)
		if cond != "" {
			b.WriteString("}\n")
		}
	}
	b.WriteString("e.buf = append(e.buf, '}')\n")
}

// nonEmpty is the condition under which an omitempty field is written, ""
// for always.
func (g *gen) nonEmpty(v string, f field) string {
	if !f.omitEmpty {
		return ""
	}
	sel := v + "." + f.path
	switch f.typ.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return "len(" + sel + ") != 0"
	case reflect.Bool:
		return sel
	case reflect.Pointer, reflect.Interface:
		return sel + " != nil"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return sel + " != 0"
	}
	return "" // a struct is never empty
}
