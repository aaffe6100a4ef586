// Package emit writes pkg/specjson's generated decoders; see internal/gen.
package emit

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Decoders writes the source (not yet gofmt'ed) of package specjson's
// decoders for root's type and every type reachable from it; the root's
// function is named dec plus the type's name.
func Decoders(w io.Writer, root any) error {
	g := &gen{names: map[reflect.Type]string{}, imports: map[string]string{}}
	g.decoder(reflect.TypeOf(root))
	if g.err != nil {
		return g.err
	}
	g.header(w)
	if _, err := w.Write(g.vars.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(g.body.Bytes())
	return err
}

type gen struct {
	names   map[reflect.Type]string // the decoder function of each type done
	imports map[string]string       // package path -> name used
	body    bytes.Buffer
	vars    bytes.Buffer // package-level variables the functions use
	err     error
}

func (g *gen) fail(format string, a ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, a...)
	}
}

// id names t in function names: Spec, PtrLinux, SliceString, MapStringString.
func (g *gen) id(t reflect.Type) string {
	if t.Name() != "" {
		name := t.Name()
		if t.PkgPath() == "" {
			return strings.ToUpper(name[:1]) + name[1:]
		}
		if t.PkgPath() == "os" {
			return "Os" + name
		}
		return name
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "Ptr" + g.id(t.Elem())
	case reflect.Slice:
		return "Slice" + g.id(t.Elem())
	case reflect.Map:
		return "Map" + g.id(t.Key()) + g.id(t.Elem())
	case reflect.Interface:
		return "Any"
	}
	g.fail("no name for type %s", t)
	return "Unknown"
}

// expr is t as Go source, importing its package if needed.
func (g *gen) expr(t reflect.Type) string {
	if t.Name() != "" {
		if t.PkgPath() == "" {
			return t.Name()
		}
		name, ok := g.imports[t.PkgPath()]
		if !ok {
			name = t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			if name == "specs-go" {
				name = "specs"
			}
			g.imports[t.PkgPath()] = name
		}
		return name + "." + t.Name()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + g.expr(t.Elem())
	case reflect.Slice:
		return "[]" + g.expr(t.Elem())
	case reflect.Map:
		return "map[" + g.expr(t.Key()) + "]" + g.expr(t.Elem())
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any"
		}
	}
	g.fail("no expression for type %s", t)
	return "any"
}

// decoder returns the name of t's decoder function, writing it (and those
// it calls) first if needed.
func (g *gen) decoder(t reflect.Type) string {
	if name, ok := g.names[t]; ok {
		return name
	}
	name := "dec" + g.id(t)
	g.names[t] = name
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nfunc %s(d *decoder, v *%s) error {\n", name, g.expr(t))
	switch t.Kind() {
	case reflect.Struct:
		g.structBody(&b, t)
	case reflect.Pointer:
		elem := g.decoder(t.Elem())
		fmt.Fprintf(&b, "if d.null() {\n*v = nil\nreturn nil\n}\nif *v == nil {\n*v = new(%s)\n}\nreturn %s(d, *v)\n", g.expr(t.Elem()), elem)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json reads []byte as base64.
			b.WriteString("return errFallback\n")
			break
		}
		elem := g.decoder(t.Elem())
		fmt.Fprintf(&b, `if d.null() {
*v = nil
return nil
}
s := %[1]s{}
err := d.array(func() error {
var e %[2]s
if err := %[3]s(d, &e); err != nil {
return err
}
s = append(s, e)
return nil
})
*v = s
return err
`, g.expr(t), g.expr(t.Elem()), elem)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			b.WriteString("return errFallback\n")
			break
		}
		elem := g.decoder(t.Elem())
		fmt.Fprintf(&b, `if d.null() {
*v = nil
return nil
}
if *v == nil {
*v = %[1]s{}
}
m := *v
return d.mapObject(func(k string) error {
var e %[2]s
if err := %[3]s(d, &e); err != nil {
return err
}
m[%[4]s(k)] = e
return nil
})
`, g.expr(t), g.expr(t.Elem()), elem, g.expr(t.Key()))
	case reflect.String:
		fmt.Fprintf(&b, "if d.null() {\nreturn nil\n}\nx, err := d.str()\n*v = %s\nreturn err\n", g.convert(t, "string"))
	case reflect.Bool:
		fmt.Fprintf(&b, "if d.null() {\nreturn nil\n}\nx, err := d.bool()\n*v = %s\nreturn err\n", g.convert(t, "bool"))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		fmt.Fprintf(&b, "if d.null() {\nreturn nil\n}\nx, err := d.int(%s)\n*v = %s\nreturn err\n", bits(t), g.convert(t, "int64"))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fmt.Fprintf(&b, "if d.null() {\nreturn nil\n}\nx, err := d.uint(%s)\n*v = %s\nreturn err\n", bits(t), g.convert(t, "uint64"))
	default:
		// Interfaces, floats and the rest: encoding/json's.
		b.WriteString("return errFallback\n")
	}
	b.WriteString("}\n")
	g.body.Write(b.Bytes())
	return name
}

// convert is the expression turning x, of type from, into t.
func (g *gen) convert(t reflect.Type, from string) string {
	if g.expr(t) == from {
		return "x"
	}
	return g.expr(t) + "(x)"
}

// bits is the size argument of d.int or d.uint for t.
func bits(t reflect.Type) string {
	if t.Kind() == reflect.Int || t.Kind() == reflect.Uint {
		return "intBits"
	}
	return fmt.Sprint(t.Bits())
}

func (g *gen) structBody(b *bytes.Buffer, t reflect.Type) {
	fields := g.fields(t)
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = fmt.Sprintf("%q", f.name)
	}
	if len(fields) > 64 {
		g.fail("%s: more than 64 fields", t)
	}
	// The names are data, not a literal built in the function: a literal
	// of many strings is many instructions.
	namesVar := "names" + g.id(t)
	fmt.Fprintf(b, "if d.null() {\nreturn nil\n}\nvar seen uint64\nreturn d.object(func(key []byte) error {\nswitch string(key) {\n")
	for i, f := range fields {
		fmt.Fprintf(b, "case %q:\nif !once(&seen, %d) {\nreturn errFallback\n}\nreturn %s(d, &v.%s)\n", f.name, i, g.decoder(f.typ), f.path)
	}
	fmt.Fprintf(b, "}\nreturn d.unknown(key, %s)\n})\n", namesVar)
	fmt.Fprintf(&g.vars, "\nvar %s = []string{%s}\n", namesVar, strings.Join(names, ", "))
}
