package scan

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"path"
	"strings"

	"github.com/moat-sandbox/moat"
)

// identify tells whether data (a file's first bytes) is a native binary:
// its format, type and architecture, parsed by the standard library's
// readers over the bytes in memory. A file cut at maxFileBytes may not
// parse in full: the magic alone then names it.
func identify(data []byte) (format, typ, arch string, ok bool) {
	r := bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		format, typ = "elf", "elf"
		if t, m, interp, ok := elfHeader(data); ok {
			typ, arch = elfType(t, interp), strings.TrimPrefix(m.String(), "EM_")
		} else if f, err := elf.NewFile(r); err == nil {
			arch = strings.TrimPrefix(f.Machine.String(), "EM_")
			switch f.Type {
			case elf.ET_EXEC:
				typ = "executable"
			case elf.ET_DYN:
				typ = "shared-object"
				if f.Section(".interp") != nil {
					typ = "executable" // position-independent, with a loader
				}
			case elf.ET_REL:
				typ = "object"
			}
		}
		return format, typ, arch, true
	case bytes.HasPrefix(data, []byte("MZ")):
		f, err := pe.NewFile(r)
		if err != nil {
			return "", "", "", false // MZ and no PE: text that starts so
		}
		typ = "executable"
		if f.Characteristics&pe.IMAGE_FILE_DLL != 0 {
			typ = "shared-object"
		}
		return "pe", typ, fmt.Sprintf("%#x", f.Machine), true
	}
	if len(data) >= 4 {
		if f, err := macho.NewFile(r); err == nil {
			typ = "executable"
			if f.Type == macho.TypeDylib || f.Type == macho.TypeBundle {
				typ = "shared-object"
			}
			return "macho", typ, f.Cpu.String(), true
		}
		if f, err := macho.NewFatFile(r); err == nil && len(f.Arches) > 0 {
			return "macho", "universal", f.Arches[0].Cpu.String(), true
		}
	}
	return "", "", "", false
}

func elfType(t elf.Type, interp bool) string {
	switch t {
	case elf.ET_EXEC:
		return "executable"
	case elf.ET_DYN:
		if interp {
			return "executable" // position-independent, with a loader
		}
		return "shared-object"
	case elf.ET_REL:
		return "object"
	}
	return "elf"
}

// elfHeader reads an ELF file's type, machine and whether it asks for a
// loader (PT_INTERP) from its header and program headers, which lie at
// its start: a file cut short still tells.
func elfHeader(d []byte) (elf.Type, elf.Machine, bool, bool) {
	if len(d) < 64 {
		return 0, 0, false, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if d[5] == 2 {
		bo = binary.BigEndian
	}
	t, m := elf.Type(bo.Uint16(d[16:])), elf.Machine(bo.Uint16(d[18:]))
	var off, ent, num uint64
	switch d[4] {
	case 2: // 64-bit
		off, ent, num = bo.Uint64(d[32:]), uint64(bo.Uint16(d[54:])), uint64(bo.Uint16(d[56:]))
	case 1:
		off, ent, num = uint64(bo.Uint32(d[28:])), uint64(bo.Uint16(d[42:])), uint64(bo.Uint16(d[44:]))
	default:
		return 0, 0, false, false
	}
	interp := false
	for i := uint64(0); i < num && i < 256; i++ {
		p := off + i*ent
		if ent < 4 || p+4 > uint64(len(d)) {
			break
		}
		if bo.Uint32(d[p:]) == uint32(elf.PT_INTERP) {
			interp = true
		}
	}
	return t, m, interp, true
}

// binariesCheck lists every native binary and judges how it can be
// reached: named by install-time code (the install can run it), named by
// the package's other code, or an extension module (import loads it).
func (a *analysis) binariesCheck() {
	for _, f := range a.p.files {
		format, typ, arch, ok := identify(f.data)
		if !ok {
			continue
		}
		b := Binary{Path: clean(f.name), Format: format, Type: typ, Arch: arch, SHA256: f.sha256, Size: f.size}
		base := path.Base(f.name)
		by, byInstall := a.namedBy(base)
		ext := isExtension(f.name)
		switch {
		case byInstall != "":
			b.Reach = "install"
		case by != "" || ext:
			b.Reach = "import"
		}
		a.binaries = append(a.binaries, b)
		h := hit{path: f.name, text: fmt.Sprintf("%s %s %s, %d bytes", format, typ, arch, f.size), sha256: f.sha256}
		what := "a native " + typ + " (" + format + ")"
		sev := moat.SeverityLow
		switch {
		case byInstall != "":
			sev = moat.SeverityHigh
			what += " named by install-time code (" + clean(byInstall) + "): the install can run it"
		case typ == "executable" && by != "":
			sev = moat.SeverityMedium
			what += " named by the package's code (" + clean(by) + "): it can run it"
		case typ == "executable" || typ == "universal":
			sev = moat.SeverityMedium
			what += " shipped in the package"
		case ext:
			what += ", an extension module: import loads it"
		case by != "":
			what += " named by the package's code (" + clean(by) + ")"
		default:
			what += " that nothing in the package names"
		}
		if a.p.kind == KindSdist && sev == moat.SeverityLow && (typ == "shared-object" || ext) {
			what += " (prebuilt, in a source distribution)"
		}
		rule := "native-binary"
		a.byKey[rule+"\x00"+f.name] = &finding{rule: rule, cat: moat.CategoryExecution, sev: sev, what: what, hits: []hit{h}, kind: moat.KindBinary}
		a.order = append(a.order, rule+"\x00"+f.name)
	}
}

// namedBy returns a source file naming base, and an install-time one.
func (a *analysis) namedBy(base string) (any, install string) {
	if len(base) < 3 {
		return "", ""
	}
	needle := []byte(base)
	for _, g := range a.p.files {
		if !isSource(g) || !bytes.Contains(g.data, needle) {
			continue
		}
		if a.install[g.name] {
			return g.name, g.name
		}
		if any == "" {
			any = g.name
		}
	}
	return any, ""
}

// isExtension says whether name is a Python extension module.
func isExtension(name string) bool {
	n := strings.ToLower(path.Base(name))
	return strings.HasSuffix(n, ".pyd") || (strings.HasSuffix(n, ".so") && strings.Count(n, ".") >= 1 && !strings.HasPrefix(n, "lib"))
}
