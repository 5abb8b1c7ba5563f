// Command release builds gatemq's release artifacts from the checkout it
// is run in (`make release VERSION=x.y.z`, or go run from scripts/release
// with -root ../..):
//
//   - gatemq-VERSION-linux-TARGET.tar.gz for every target of
//     scripts/cross.sh: the binary, install.sh with the systemd unit and
//     the port check it uses, a sample gatemq.conf, LICENSE, NOTICE,
//     THIRD_PARTY_LICENSES and README.md;
//   - gatemq_VERSION_ARCH.deb for Debian and Raspberry Pi OS (amd64, arm64,
//     armhf);
//   - gatemq_VERSION-1_ARCH.ipk (opkg, OpenWrt 23.05/24.10) and
//     gatemq-VERSION-r1_ARCH.apk (apk, OpenWrt 25.x; apk v2 format, see
//     README.md) for the OpenWrt architectures each target runs on;
//   - SHA256SUMS over all of them.
//
// The packages are made by nFPM (github.com/goreleaser/nfpm/v2), pinned in
// this folder's own go.mod, so gatemq's module and binary do not change.
// The same commit gives byte-identical artifacts: the binaries are built
// with -trimpath, -buildvcs=false and an empty build id, and every archive
// has fixed file order, owners (root) and times (SOURCE_DATE_EPOCH, by
// default the commit's time).
//
// Usage: release -version X.Y.Z [-targets amd64,mipsle,...] [-out DIR] [-root DIR]
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is one build of scripts/cross.sh and what is made from it.
type target struct {
	name    string   // as in scripts/cross.sh
	env     []string // GOARCH and friends
	deb     string   // Debian architecture, "" for no .deb
	openwrt []string // OpenWrt package architectures the binary runs on
}

// targets are scripts/cross.sh's, in its order. armhf (Raspberry Pi OS)
// gets the ARMv6 build: Raspberry Pi OS's armhf is ARMv6 + VFP, for the
// Pi 1 and Zero; the same binary runs on every later Pi.
var targets = []target{
	{"mips", []string{"GOARCH=mips", "GOMIPS=softfloat"}, "", []string{"mips_24kc"}},
	{"mipsle", []string{"GOARCH=mipsle", "GOMIPS=softfloat"}, "", []string{"mipsel_24kc"}},
	{"armv5", []string{"GOARCH=arm", "GOARM=5"}, "", []string{"arm_arm926ej-s", "arm_xscale"}},
	{"armv6", []string{"GOARCH=arm", "GOARM=6"}, "armhf", []string{"arm_arm1176jzf-s_vfp"}},
	{"armv7", []string{"GOARCH=arm", "GOARM=7"}, "", []string{"arm_cortex-a7_neon-vfpv4", "arm_cortex-a9", "arm_cortex-a9_vfpv3-d16", "arm_cortex-a15_neon-vfpv4"}},
	{"arm64", []string{"GOARCH=arm64"}, "arm64", []string{"aarch64_cortex-a53", "aarch64_cortex-a72", "aarch64_generic"}},
	{"riscv64", []string{"GOARCH=riscv64"}, "", []string{"riscv64_riscv64"}},
	{"amd64", []string{"GOARCH=amd64"}, "amd64", []string{"x86_64"}},
}

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// release is one run: where things come from and go.
type release struct {
	root    string    // gatemq checkout
	out     string    // artifacts
	tmp     string    // binaries and generated files
	version string    // X.Y.Z
	mtime   time.Time // SOURCE_DATE_EPOCH
	goCmd   string
}

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	version := fs.String("version", "", "release version X.Y.Z (required)")
	only := fs.String("targets", "", "comma-separated scripts/cross.sh targets (default all)")
	out := fs.String("out", "dist/release", "folder for the artifacts (emptied first)")
	root := fs.String("root", ".", "the gatemq checkout")
	goCmd := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !versionRE.MatchString(*version) {
		return fmt.Errorf("-version %q: want X.Y.Z (digits), a version every package format accepts", *version)
	}
	sel, err := selectTargets(*only)
	if err != nil {
		return err
	}
	r := &release{version: *version, goCmd: *goCmd}
	if r.root, err = filepath.Abs(*root); err != nil {
		return err
	}
	if r.out, err = filepath.Abs(*out); err != nil {
		return err
	}
	if r.mtime, err = sourceDate(r.root); err != nil {
		return err
	}
	if r.tmp, err = os.MkdirTemp("", "gatemq-release-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	if err := os.RemoveAll(r.out); err != nil {
		return err
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}

	bins := map[string]string{}
	for _, t := range sel {
		if bins[t.name], err = r.build(t); err != nil {
			return err
		}
	}
	g, err := r.generate(bins)
	if err != nil {
		return err
	}
	for _, t := range sel {
		if err := r.tarball(t, bins[t.name], g); err != nil {
			return err
		}
		if t.deb != "" {
			if err := r.deb(t, bins[t.name], g); err != nil {
				return err
			}
		}
		for _, arch := range t.openwrt {
			if err := r.openwrt(arch, bins[t.name], g); err != nil {
				return err
			}
		}
	}
	return r.sums()
}

func selectTargets(list string) ([]target, error) {
	if list == "" || list == "all" {
		return targets, nil
	}
	var sel []target
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(targets, func(t target) bool { return t.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown target %q", name)
		}
		sel = append(sel, targets[i])
	}
	return sel, nil
}

// sourceDate is SOURCE_DATE_EPOCH, or else the time of the checkout's
// last commit: the time every file in every archive carries.
func sourceDate(root string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time from git: %v", err)
		}
		s = strings.TrimSpace(string(out))
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %v", s, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// build compiles gatemq for t as scripts/cross.sh does (with the -gcflags
// of scripts/gcflags.sh), plus what makes it reproducible: no VCS stamp, an
// empty build id.
func (r *release) build(t target) (string, error) {
	bin := filepath.Join(r.tmp, "bin", t.name, "gatemq")
	gc := exec.Command("sh", "scripts/gcflags.sh")
	gc.Dir = r.root
	gcflags, err := gc.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/gcflags.sh: %v", err)
	}
	args := append([]string{"build", "-trimpath", "-buildvcs=false"}, strings.Fields(string(gcflags))...)
	args = append(args, "-ldflags", "-s -w -buildid= -X main.version="+r.version, "-o", bin, ".")
	cmd := exec.Command(r.goCmd, args...)
	cmd.Dir = r.root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS="), t.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build for %s: %v\n%s", t.name, err, out)
	}
	return bin, nil
}

// sums writes SHA256SUMS over every artifact, sorted by name, and prints
// each artifact's size.
func (r *release) sums() error {
	ents, err := os.ReadDir(r.out)
	if err != nil {
		return err
	}
	var sums bytes.Buffer
	fmt.Printf("%-52s %10s\n", "artifact", "bytes")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(r.out, e.Name()))
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), e.Name())
		fmt.Printf("%-52s %10d\n", e.Name(), len(b))
	}
	if sums.Len() == 0 {
		return errors.New("no artifacts")
	}
	fmt.Printf("version %s, SOURCE_DATE_EPOCH %d, in %s\n", r.version, r.mtime.Unix(), r.out)
	return os.WriteFile(filepath.Join(r.out, "SHA256SUMS"), sums.Bytes(), 0o644)
}
