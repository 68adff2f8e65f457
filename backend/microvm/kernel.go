package microvm

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moat-sandbox/moat"
)

// guestModules are the kernel modules the guest needs for moat's channel
// (virtio-mmio transport, virtio-serial port) and its root (virtio-blk,
// squashfs), each after its dependencies. Those built into the kernel are
// skipped.
var guestModules = []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_console", "virtio_blk", "squashfs"}

// netModules are what the sinkhole needs in the guest (nftables and its
// tproxy expression, as native's sandbox uses them; see
// internal/observe/egress), each after its dependencies. A kernel without
// them still runs network none; the sinkhole is then refused.
var netModules = []string{"crc32c_generic", "libcrc32c", "nfnetlink", "nf_tables", "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_tproxy_ipv4", "nf_tproxy_ipv6", "nft_tproxy"}

// Kernel is a guest kernel and the directory its modules come from.
type Kernel struct {
	Path    string // vmlinuz (bzImage), or an uncompressed vmlinux (PVH)
	Modules []string
	Source  string // where it was found, for `moat backends`
	// NoNet says why the sinkhole cannot run on this kernel ("": it can).
	NoNet string
}

// systemCache is where .ci/setup-microvm.sh (as root) puts the kernel it
// fetched with apt: vmlinuz and modules/ (flat .ko files).
const systemCache = "/var/cache/moat/microvm/kernel"

// findKernel returns the kernel to boot: explicit (Backend.Kernel, then
// MOAT_MICROVM_KERNEL), else the newest /boot/vmlinuz-* whose modules are
// in /lib/modules, else the one in moat's caches.
func findKernel(explicit string) (*Kernel, error) {
	if explicit == "" {
		explicit = os.Getenv("MOAT_MICROVM_KERNEL")
	}
	if explicit != "" {
		if err := CheckKernel(explicit); err != nil {
			return nil, fmt.Errorf("microvm: kernel %s: %w: %w", explicit, err, moat.ErrUnavailable)
		}
		k, err := kernelAt(explicit)
		if err != nil {
			return nil, fmt.Errorf("microvm: kernel %s: %w: %w", explicit, err, moat.ErrUnavailable)
		}
		return k, nil
	}
	boots, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(boots)))
	var tried []string
	for _, p := range boots {
		k, err := kernelAt(p)
		if err == nil {
			return k, nil
		}
		tried = append(tried, p+": "+err.Error())
	}
	caches := []string{systemCache}
	if d, err := os.UserCacheDir(); err == nil {
		caches = append(caches, filepath.Join(d, "moat", "microvm", "kernel"))
	}
	for _, d := range caches {
		// The uncompressed kernel first, when the setup extracted it:
		// QEMU boots it through PVH, and the guest does not spend its
		// first seconds (tens, under emulation) decompressing itself.
		p := filepath.Join(d, "vmlinux")
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join(d, "vmlinuz")
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		k, err := kernelAt(p)
		if err == nil {
			return k, nil
		}
		tried = append(tried, p+": "+err.Error())
	}
	why := "no kernel in /boot or " + strings.Join(caches, " or ")
	if len(tried) > 0 {
		why = strings.Join(tried, "; ")
	}
	return nil, fmt.Errorf("microvm: %s (give one with --kernel or MOAT_MICROVM_KERNEL, or run .ci/setup-microvm.sh, which fetches Debian's with apt): %w", why, moat.ErrUnavailable)
}

// kernelAt finds the modules of the kernel at p: a modules/ directory
// beside it (moat's cache: flat .ko files), else /lib/modules/RELEASE for
// a /boot/vmlinuz-RELEASE.
func kernelAt(p string) (*Kernel, error) {
	dir := filepath.Join(filepath.Dir(p), "modules")
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return withModules(&Kernel{Path: p, Source: p}, dir, nil)
	}
	release, ok := strings.CutPrefix(filepath.Base(p), "vmlinuz-")
	if !ok {
		return nil, fmt.Errorf("no modules/ beside it and no release in its name")
	}
	mdir := filepath.Join("/lib/modules", release)
	builtin := map[string]bool{}
	if f, err := os.Open(filepath.Join(mdir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			builtin[strings.TrimSuffix(filepath.Base(sc.Text()), ".ko")] = true
		}
		f.Close()
	}
	return withModules(&Kernel{Path: p, Source: p}, mdir, builtin)
}

// withModules finds k's modules in dir: guestModules, which it must have,
// and netModules, all or none.
func withModules(k *Kernel, dir string, builtin map[string]bool) (*Kernel, error) {
	mods, err := modulesIn(dir, builtin, guestModules)
	if err != nil {
		return nil, err
	}
	net, err := modulesIn(dir, builtin, netModules)
	if err != nil {
		k.NoNet = "the guest kernel lacks what the sinkhole needs: " + err.Error()
	} else {
		mods = append(mods, net...)
	}
	k.Modules = mods
	return k, nil
}

// modulesIn finds each of want below dir (skipping built-ins), in want's
// order.
func modulesIn(dir string, builtin map[string]bool, want []string) ([]string, error) {
	found := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.Type().IsRegular() {
			for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz"} {
				if m, ok := strings.CutSuffix(name, ext); ok {
					if _, ok := found[m]; !ok {
						found[m] = "compressed:" + p
					}
				}
			}
			if m, ok := strings.CutSuffix(name, ".ko"); ok {
				found[strings.ReplaceAll(m, "-", "_")] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	var mods []string
	for _, m := range want {
		p, ok := found[m]
		switch {
		case builtin[m]:
		case !ok:
			return nil, fmt.Errorf("module %s not found in %s", m, dir)
		case strings.HasPrefix(p, "compressed:"):
			return nil, fmt.Errorf("module %s is compressed (%s); moat's init loads plain .ko files", m, strings.TrimPrefix(p, "compressed:"))
		default:
			mods = append(mods, p)
		}
	}
	return mods, nil
}

// CheckKernel says whether the file at p is a kernel QEMU can boot on
// x86-64: a bzImage (the "HdrS" setup header), or an uncompressed ELF
// vmlinux with a PVH entry point (the Xen ELF note QEMU looks for).
func CheckKernel(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return errors.Unwrap(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	var hdr [0x206]byte
	n, _ := io.ReadFull(f, hdr[:])
	switch {
	case n == len(hdr) && string(hdr[0x202:0x206]) == "HdrS":
		return nil
	case n >= 4 && string(hdr[:4]) == elf.ELFMAG:
		return pvhNote(f)
	}
	return errors.New("not a bootable kernel (neither a bzImage nor an ELF vmlinux)")
}

// xenElfNotePhys32Entry is the ELF note of a PVH entry point.
const xenElfNotePhys32Entry = 18

// pvhNote requires an x86-64 ELF file with a PVH entry note.
func pvhNote(r io.ReaderAt) error {
	ef, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("not a bootable kernel: %w", err)
	}
	if ef.Machine != elf.EM_X86_64 {
		return fmt.Errorf("not a bootable kernel: an ELF file for %s, not x86-64", ef.Machine)
	}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_NOTE || prog.Filesz > 1<<20 {
			continue
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil {
			continue
		}
		for len(b) >= 12 {
			nameSz, descSz, typ := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
			off := 12 + (uint64(nameSz)+3)&^3
			end := off + (uint64(descSz)+3)&^3
			if end > uint64(len(b)) {
				break
			}
			if typ == xenElfNotePhys32Entry && bytes.Equal(bytes.TrimRight(b[12:12+nameSz], "\x00"), []byte("Xen")) {
				return nil
			}
			b = b[end:]
		}
	}
	return errors.New("not a bootable kernel: an ELF vmlinux without a PVH entry note (QEMU boots only those uncompressed; give the bzImage)")
}
