package rootfs

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// FuzzParseOptions feeds a mount (type, destination, options joined by
// ",") to what parses it before anything is mounted: parseOptions, as both
// init paths read it, IsBind and BindData, as spec.Validate reads it, and
// ProcDestination. None may panic; a refusal is one line and wraps
// ErrProcMount. The parse is checked against the Options table: the data
// is exactly the unknown words, in order, and every word sets or clears
// its bits, so that the list given twice parses as once (but for the
// propagation calls and the data, which are repeated).
func FuzzParseOptions(f *testing.F) {
	for _, c := range parseOptionsCases() {
		f.Add("tmpfs", "/mnt", strings.Join(c.opts, ","))
		f.Add("bind", "/mnt", strings.Join(c.opts, ","))
	}
	for _, c := range procDestinationCases() {
		f.Add(c.m.Type, c.m.Destination, strings.Join(c.m.Options, ","))
	}
	f.Fuzz(func(t *testing.T, typ, dest, words string) {
		var opts []string
		if words != "" {
			opts = strings.Split(words, ",")
		}
		m := specs.Mount{Type: typ, Destination: dest, Source: "/src", Options: opts}
		p := parseOptions(opts)
		checkParsed(t, opts, p)
		if IsBind(m) != (typ == "bind" || p.flags&unix.MS_BIND != 0) {
			t.Fatalf("IsBind(%q, %q) = %v", typ, opts, IsBind(m))
		}
		if data := BindData(m); data != nil && (!IsBind(m) || strings.Join(data, ",") != ParseMountOptions(opts).Data) {
			t.Fatalf("BindData(%q, %q) = %q", typ, opts, data)
		}
		if _, err := ProcDestination(dest, m); err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("ProcDestination: error of several lines: %q", msg)
			}
			if !errors.Is(err, ErrProcMount) {
				t.Fatalf("ProcDestination: %v does not wrap ErrProcMount", err)
			}
		}
	})
}

// checkParsed checks p, the parse of opts, against the Options table.
func checkParsed(t *testing.T, opts []string, p parsedOptions) {
	t.Helper()
	var unknown []string
	for _, o := range opts {
		if _, ok := Options[o]; !ok {
			unknown = append(unknown, o)
		}
	}
	if got, want := ParseMountOptions(opts).Data, strings.Join(unknown, ","); got != want {
		t.Fatalf("ParseMountOptions(%q).Data = %q, want the unknown words %q", opts, got, want)
	}
	if both := p.attrSet & p.attrClr &^ unix.MOUNT_ATTR__ATIME; both != 0 {
		t.Fatalf("parseOptions(%q): attributes %#x both set and cleared", opts, both)
	}
	if atime := p.attrSet & unix.MOUNT_ATTR__ATIME; atime&(atime-1) != 0 {
		t.Fatalf("parseOptions(%q): two atime modes set (%#x)", opts, atime)
	}
	twice := parseOptions(append(append([]string(nil), opts...), opts...))
	if twice.flags != p.flags || twice.attrSet != p.attrSet || twice.attrClr != p.attrClr ||
		twice.copyUp != p.copyUp || twice.idmap != p.idmap || twice.ridmap != p.ridmap ||
		len(twice.propagation) != 2*len(p.propagation) || len(twice.data) != 2*len(p.data) {
		t.Fatalf("parseOptions(%q) = %+v, but given twice %+v", opts, p, twice)
	}
}
