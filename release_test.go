package main

// Tests of the release artifacts of scripts/release (make release).
//
// Under `make test` (and plain go test) TestRelease builds a quick release
// of two targets, amd64 and mips, twice, and checks that both builds give
// the same SHA256SUMS. `make release` runs it on the full set it built
// (GATEMQ_RELEASE_DIR, GATEMQ_RELEASE_VERSION). Either way it checks: the
// sums; THIRD_PARTY_LICENSES against the modules in the packaged binary;
// every .deb with dpkg-deb and lintian; the amd64 .deb unpacked into a
// throwaway root, its postinst run against stubs, and its binary run as
// an unprivileged user reading a 0600 password file owned by that user
// and serving mosquitto_pub/sub; every .ipk and .apk unpacked and its
// control fields, conffiles, scripts and files checked; the packaged
// procd init script and postinst against stubs; the packaged mips binary
// under qemu serving mosquitto_pub/sub.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// releaseQuickTargets are built by the test itself: the Debian/PC target
// and big-endian MIPS, the one most unlike the machine that builds.
const releaseQuickTargets = "amd64,mips"

// Unused ids the unpacked package runs as (there is no gatemq user on
// the test machine, and the test must not create one).
const releaseUID, releaseGID = 64125, 64125

func TestRelease(t *testing.T) {
	dir, version := os.Getenv("GATEMQ_RELEASE_DIR"), os.Getenv("GATEMQ_RELEASE_VERSION")
	if dir == "" {
		if testing.Short() {
			t.Skip("building release artifacts is slow; not run with -short")
		}
		version = "0.0.1"
		tool := filepath.Join(t.TempDir(), "release")
		if out, err := exec.Command("go", "build", "-C", "scripts/release", "-o", tool, ".").CombinedOutput(); err != nil {
			t.Fatalf("building scripts/release: %v\n%s", err, out)
		}
		build := func() string {
			out := t.TempDir()
			cmd := exec.Command(tool, "-version", version, "-targets", releaseQuickTargets, "-out", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("release: %v\n%s", err, b)
			}
			return out
		}
		dir = build()
		again := build()
		t.Run("reproducible", func(t *testing.T) {
			a, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
			b, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("two builds of the same commit differ:\n%s\n---\n%s", a, b)
			}
		})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var debs, ipks, apks, tgzs []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".deb":
			debs = append(debs, p)
		case ".ipk":
			ipks = append(ipks, p)
		case ".apk":
			apks = append(apks, p)
		case ".gz":
			tgzs = append(tgzs, p)
		}
	}
	if len(debs) == 0 || len(ipks) == 0 || len(ipks) != len(apks) || len(tgzs) == 0 {
		t.Fatalf("artifacts in %s: debs %v ipks %v apks %v tarballs %v", dir, debs, ipks, apks, tgzs)
	}

	t.Run("sums", func(t *testing.T) { releaseSums(t, dir, len(ents)-1) })
	t.Run("tarball", func(t *testing.T) {
		for _, p := range tgzs {
			releaseTarball(t, p, version)
		}
	})
	t.Run("deb", func(t *testing.T) {
		for _, p := range debs {
			releaseDeb(t, p, version)
		}
	})
	t.Run("deb_serves", func(t *testing.T) { releaseDebServes(t, pick(t, debs, "_amd64.deb")) })
	t.Run("openwrt", func(t *testing.T) {
		for _, p := range ipks {
			releaseIPK(t, p, version)
		}
		for _, p := range apks {
			releaseAPK(t, p, version)
		}
	})
	t.Run("openwrt_scripts", func(t *testing.T) { releaseOpenWrtScripts(t, pick(t, ipks, "_mips_24kc.ipk")) })
	t.Run("mips_qemu", func(t *testing.T) { releaseMipsQemu(t, pick(t, ipks, "_mips_24kc.ipk")) })
}

func pick(t *testing.T, paths []string, suffix string) string {
	t.Helper()
	for _, p := range paths {
		if strings.HasSuffix(p, suffix) {
			return p
		}
	}
	t.Fatalf("no artifact *%s among %v", suffix, paths)
	return ""
}

func releaseSums(t *testing.T, dir string, n int) {
	f, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(f)), "\n")
	if len(lines) != n {
		t.Errorf("SHA256SUMS has %d lines for %d artifacts", len(lines), n)
	}
	for _, l := range lines {
		sum, name, ok := strings.Cut(l, "  ")
		b, err := os.ReadFile(filepath.Join(dir, name))
		h := sha256.Sum256(b)
		if !ok || err != nil || hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS line %q does not match the file (%v)", l, err)
		}
	}
}

// tarFiles reads a tar stream into a map of name to header and content.
func tarFiles(t *testing.T, r io.Reader) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		hdrs[name], data[name] = h, b
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// releaseTarball checks a tar.gz's files, and that THIRD_PARTY_LICENSES
// names every module in its binary and nothing test-only.
func releaseTarball(t *testing.T, path, version string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdrs, data := tarFiles(t, bytes.NewReader(gunzip(t, b)))
	base := strings.TrimSuffix(filepath.Base(path), ".tar.gz") + "/"
	for name, mode := range map[string]int64{"gatemq": 0o755, "install.sh": 0o755, "systemd/gatemq.service": 0o644,
		"common/gatemq-portcheck": 0o755, "gatemq.conf": 0o644, "LICENSE": 0o644, "NOTICE": 0o644,
		"THIRD_PARTY_LICENSES": 0o644, "README.md": 0o644} {
		h := hdrs[base+name]
		if h == nil || h.Mode != mode || h.Uid != 0 || h.Uname != "root" {
			t.Errorf("%s: %s missing or not root-owned mode %o: %+v", filepath.Base(path), name, mode, h)
		}
	}
	bin := filepath.Join(t.TempDir(), "gatemq")
	if err := os.WriteFile(bin, data[base+"gatemq"], 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	third := string(data[base+"THIRD_PARTY_LICENSES"])
	for _, d := range info.Deps {
		if !strings.Contains(third, "\n"+d.Path+" "+d.Version+" (") {
			t.Errorf("%s: THIRD_PARTY_LICENSES lacks %s %s", filepath.Base(path), d.Path, d.Version)
		}
	}
	for _, testOnly := range []string{"paho", "LicenseRef"} {
		if strings.Contains(third, testOnly) {
			t.Errorf("THIRD_PARTY_LICENSES names %q", testOnly)
		}
	}
	// go.bug.st/serial, golang.org/x/sys and golang.org/x/term: msgp is
	// not linked (flashstore/internal/msgp), nor is gorilla/websocket.
	if !strings.Contains(third, "Go standard library and runtime") || len(info.Deps) < 3 ||
		!strings.Contains(third, "\ngo.bug.st/serial ") {
		t.Errorf("THIRD_PARTY_LICENSES without Go's own license or go.bug.st/serial, or too few deps (%d)", len(info.Deps))
	}
	if !slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-trimpath" && s.Value == "true" }) {
		t.Errorf("binary not built with -trimpath: %v", info.Settings)
	}
	if !strings.Contains(third, "MIT") {
		t.Error("no MIT module recognised")
	}
	if out, err := exec.Command(bin, "-version").Output(); err == nil && strings.TrimSpace(string(out)) != "gatemq "+version {
		t.Errorf("%s: gatemq -version says %q, want %q", filepath.Base(path), out, "gatemq "+version)
	}
}

// releaseDeb checks a .deb with dpkg-deb --info/--contents and lintian.
func releaseDeb(t *testing.T, path, version string) {
	dpkgDeb := requireTool(t, "dpkg-deb", "dpkg")
	lintian := requireTool(t, "lintian", "lintian")
	name := filepath.Base(path)
	arch := strings.TrimSuffix(name[strings.LastIndex(name, "_")+1:], ".deb")
	info, err := exec.Command(dpkgDeb, "--info", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --info %s: %v\n%s", name, err, info)
	}
	for _, want := range []string{"Package: gatemq", "Version: " + version, "Architecture: " + arch,
		"Depends: adduser", "Conflicts: mosquitto", "Provides: mqtt-broker", "Section: net", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("%s: dpkg-deb --info lacks %q:\n%s", name, want, info)
		}
	}
	contents, err := exec.Command(dpkgDeb, "--contents", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v", err)
	}
	for _, want := range []string{"./usr/bin/gatemq", "./lib/systemd/system/gatemq.service", "./etc/gatemq/gatemq.conf",
		"./usr/lib/gatemq/gatemq-portcheck", "./usr/share/doc/gatemq/copyright", "./usr/share/doc/gatemq/changelog.gz"} {
		if !strings.Contains(string(contents), " "+want+"\n") {
			t.Errorf("%s: no %s in:\n%s", name, want, contents)
		}
	}
	ctl := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "--control", path, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); strings.TrimSpace(string(b)) != "/etc/gatemq/gatemq.conf" {
		t.Errorf("%s: conffiles %q", name, b)
	}
	out, err := exec.Command(lintian, "--tag-display-limit", "0", path).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") {
			t.Errorf("%s: lintian: %s", name, l)
		}
	}
	if err != nil {
		t.Errorf("lintian %s: %v\n%s", name, err, out)
	}
}

// stubs makes a folder of commands that append "NAME ARGS" to log and
// exit with the status given for them (default 0).
func stubs(t *testing.T, log string, names map[string]int) string {
	t.Helper()
	dir := t.TempDir()
	for name, code := range names {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >> %q\nexit %d\n", name, log, code)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// releaseDebServes unpacks the amd64 .deb into a throwaway root, runs its
// postinst there against stubs, and runs the packaged binary as an
// unprivileged uid, reading a 0600 password file of that uid, serving
// mosquitto_pub/sub.
func releaseDebServes(t *testing.T, path string) {
	dpkgDeb := requireTool(t, "dpkg-deb", "dpkg")
	setpriv := requireTool(t, "setpriv", "util-linux")
	pub := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	if os.Geteuid() != 0 {
		t.Skip("running the package as another user needs root")
	}
	// Not t.TempDir(): its parent is 0700, closed to the unprivileged uid.
	root, err := os.MkdirTemp("", "gatemq-deb-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(dpkgDeb, "-x", path, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	ctl := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "--control", path, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}

	// postinst configure (a first install), against stubs.
	log := filepath.Join(t.TempDir(), "calls")
	bin := stubs(t, log, map[string]int{"getent": 2, "addgroup": 0, "adduser": 0, "dpkg-statoverride": 1,
		"chown": 0, "deb-systemd-helper": 1, "deb-systemd-invoke": 0, "systemctl": 0})
	cmd := exec.Command("sh", filepath.Join(ctl, "postinst"), "configure")
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "DPKG_ROOT="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("postinst configure: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{
		"addgroup --system --quiet gatemq\n",
		"adduser --system --quiet --ingroup gatemq --home /var/lib/gatemq --no-create-home --shell /usr/sbin/nologin gatemq\n",
		"chown root:gatemq " + root + "/etc/gatemq\n",
		"chown root:gatemq " + root + "/etc/gatemq/gatemq.conf\n",
		"chown gatemq:gatemq " + root + "/var/lib/gatemq\n",
		"deb-systemd-helper enable gatemq.service\n",
	} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("postinst did not call %q; calls:\n%s", want, calls)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/gatemq/gatemq.conf")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("gatemq.conf after postinst: %v %v, want 0640", fi, err)
	}

	// What chown would have done for the gatemq user, with unused ids.
	etc, state := filepath.Join(root, "etc/gatemq"), filepath.Join(root, "var/lib/gatemq")
	for _, c := range [][]string{{etc, "0", strconv.Itoa(releaseGID)}, {filepath.Join(etc, "gatemq.conf"), "0", strconv.Itoa(releaseGID)},
		{state, strconv.Itoa(releaseUID), strconv.Itoa(releaseGID)}} {
		u, _ := strconv.Atoi(c[1])
		g, _ := strconv.Atoi(c[2])
		if err := os.Chown(c[0], u, g); err != nil {
			t.Fatal(err)
		}
	}
	gatemq := filepath.Join(root, "usr/bin/gatemq")
	passwd := filepath.Join(etc, "passwd")
	if out, err := exec.Command(gatemq, "passwd", "-c", "-b", passwd, "alice", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("gatemq passwd: %v\n%s", err, out)
	}
	if fi, err := os.Stat(passwd); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("passwd made by root in the root:gatemq folder: %v %v, want 0640 (readable to the group)", fi, err)
	}
	// The case of the issue: a 0600 file owned by the broker's user.
	if err := os.Chown(passwd, releaseUID, releaseGID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(passwd, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf, err := os.ReadFile(filepath.Join(etc, "gatemq.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(conf), "\nlistener 1883 127.0.0.1", "\nlistener "+strconv.Itoa(port)+" 127.0.0.1", 1)
	text = strings.Replace(text, "\nallow_anonymous true\n", "\nallow_anonymous false\npassword_file "+passwd+"\n", 1)
	text = strings.Replace(text, "\npersistence_location /var/lib/gatemq", "\npersistence_location "+state, 1)
	if text == string(conf) || !strings.Contains(text, "password_file") || !strings.Contains(text, state) {
		t.Fatalf("the packaged gatemq.conf is not what the test expects:\n%s", conf)
	}
	if err := os.WriteFile(filepath.Join(etc, "gatemq.conf"), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}

	p := startProc(t, nil, setpriv, "--reuid", strconv.Itoa(releaseUID), "--regid", strconv.Itoa(releaseGID),
		"--clear-groups", gatemq, "-c", filepath.Join(etc, "gatemq.conf"))
	p.waitFor(t, p.stderr, startedRE, qemuStartTimeout)
	m := &mosq{addr: "127.0.0.1:" + strconv.Itoa(port), host: "127.0.0.1", port: strconv.Itoa(port), pub: pub, sub: sub, stdbuf: stdbuf}
	s := m.subscribe(t, "-u", "alice", "-P", "s3cret", "-t", "pkg/test", "-q", "1", "-C", "1")
	m.publish(t, "", "-u", "alice", "-P", "s3cret", "-t", "pkg/test", "-q", "1", "-m", "hello")
	if got := messages(t, s); !equalLines(got, []string{"pkg/test hello"}) {
		t.Errorf("the packaged broker delivered %q", got)
	}
	ents, _ := os.ReadDir(state)
	if len(ents) == 0 {
		t.Errorf("no store written in %s by the unprivileged broker", state)
	}
}

// control parses "Key: value" lines (continuation lines are skipped).
func control(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, " ") {
			m[k] = v
		}
	}
	return m
}

// openwrtFiles are the files every OpenWrt package holds, with modes.
var openwrtFiles = map[string]int64{
	"usr/sbin/gatemq": 0o755, "usr/libexec/gatemq-uci2conf": 0o755, "usr/libexec/gatemq-portcheck": 0o755,
	"etc/init.d/gatemq": 0o755, "etc/config/gatemq": 0o600, "lib/upgrade/keep.d/gatemq": 0o644,
	"etc/hotplug.d/tty/30-gatemq": 0o644, "usr/share/licenses/gatemq/LICENSE": 0o644,
	"usr/share/licenses/gatemq/NOTICE": 0o644, "usr/share/licenses/gatemq/THIRD_PARTY_LICENSES": 0o644,
}

// openwrtArch is the OpenWrt architecture in a package's file name,
// gatemq_VERSION-1_ARCH.ipk or gatemq_VERSION-r1_ARCH.apk.
var openwrtArch = regexp.MustCompile(`^gatemq_[0-9.]+-r?1_([a-z0-9_.-]+)\.(?:ipk|apk)$`)

// releaseIPK checks an .ipk as opkg reads it: a tar.gz of debian-binary,
// control.tar.gz and data.tar.gz (OpenWrt's ipkg-build format).
func releaseIPK(t *testing.T, path, version string) {
	name := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, outer := tarFiles(t, bytes.NewReader(gunzip(t, b)))
	if len(outer) != 3 || string(outer["debian-binary"]) != "2.0\n" || outer["control.tar.gz"] == nil || outer["data.tar.gz"] == nil {
		t.Fatalf("%s: outer archive holds %v", name, keys(outer))
	}
	_, ctl := tarFiles(t, bytes.NewReader(gunzip(t, outer["control.tar.gz"])))
	f := control(ctl["control"])
	arch := openwrtArch.FindStringSubmatch(name)[1]
	for k, v := range map[string]string{"Package": "gatemq", "Version": version + "-1", "Architecture": arch,
		"Depends": "procd", "Conflicts": "mosquitto-ssl, mosquitto-nossl", "Require-User": "gatemq=1883:gatemq=1883:dialout=20"} {
		if f[k] != v {
			t.Errorf("%s: control %s = %q, want %q", name, k, f[k], v)
		}
	}
	if !strings.HasPrefix(f["License"], "Apache-2.0 ") || !strings.Contains(f["License"], "BSD-3-Clause") {
		t.Errorf("%s: License %q", name, f["License"])
	}
	if strings.TrimSpace(string(ctl["conffiles"])) != "/etc/config/gatemq" {
		t.Errorf("%s: conffiles %q", name, ctl["conffiles"])
	}
	if ctl["postinst"] == nil || ctl["prerm"] == nil {
		t.Errorf("%s: no postinst/prerm: %v", name, keys(ctl))
	}
	hdrs, _ := tarFiles(t, bytes.NewReader(gunzip(t, outer["data.tar.gz"])))
	checkOpenWrtData(t, name, hdrs)
	var size int64
	for _, h := range hdrs {
		size += h.Size
	}
	if f["Installed-Size"] != strconv.FormatInt(size, 10) {
		t.Errorf("%s: Installed-Size %q, want the data's %d bytes (opkg reads bytes)", name, f["Installed-Size"], size)
	}
}

func checkOpenWrtData(t *testing.T, name string, hdrs map[string]*tar.Header) {
	t.Helper()
	for f, mode := range openwrtFiles {
		h := hdrs[f]
		if h == nil || h.Mode&0o7777 != mode || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s missing or not root-owned mode %o: %+v", name, f, mode, h)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// releaseAPK checks an .apk (v2: concatenated gzip streams of the control
// tar, with .PKGINFO and the scripts, and the data tar).
func releaseAPK(t *testing.T, path, version string) {
	name := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(b))
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]*tar.Header{}
	data := map[string][]byte{}
	for streams := 1; ; streams++ {
		zr.Multistream(false)
		member, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gzip stream %d: %v", name, streams, err)
		}
		hdrs, d := tarFiles(t, bytes.NewReader(member))
		for k, v := range hdrs {
			all[k], data[k] = v, d[k]
		}
		if err := zr.Reset(br); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	info := string(data[".PKGINFO"])
	arch := openwrtArch.FindStringSubmatch(name)[1]
	for _, want := range []string{"pkgname = gatemq\n", "pkgver = " + version + "-r1\n", "arch = " + arch + "\n",
		"depend = procd\n", "depend = !mosquitto-ssl\n", "depend = !mosquitto-nossl\n", "license = Apache-2.0 "} {
		if !strings.Contains(info, want) {
			t.Errorf("%s: .PKGINFO lacks %q:\n%s", name, want, info)
		}
	}
	for _, s := range []string{".post-install", ".pre-deinstall", ".post-upgrade"} {
		if data[s] == nil {
			t.Errorf("%s: no %s script: %v", name, s, keys(all))
		}
	}
	checkOpenWrtData(t, name, all)
}

// ipkParts unpacks an .ipk: its control files and its data files.
func ipkParts(t *testing.T, path string) (ctl, data map[string][]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, outer := tarFiles(t, bytes.NewReader(gunzip(t, b)))
	_, ctl = tarFiles(t, bytes.NewReader(gunzip(t, outer["control.tar.gz"])))
	_, data = tarFiles(t, bytes.NewReader(gunzip(t, outer["data.tar.gz"])))
	return ctl, data
}

// releaseOpenWrtScripts runs the packaged init script's start_service
// against stubs of procd (the procd calls it makes, the UCI translation,
// the port warning) and the packaged postinst in an image root with a
// stub /lib/functions.sh (the users and groups it makes).
func releaseOpenWrtScripts(t *testing.T, path string) {
	ctl, data := ipkParts(t, path)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	init := write("init", data["etc/init.d/gatemq"])
	uci2conf := write("uci2conf", data["usr/libexec/gatemq-uci2conf"])
	uci := write("uci", data["etc/config/gatemq"])
	log := filepath.Join(dir, "calls")
	portcheck := write("portcheck", []byte("#!/bin/sh\necho \"portcheck $*\" >> "+log+"\nexit 1\n"))

	// OpenWrt runs them with busybox ash: use it when it is installed
	// (make tools installs it).
	shell := []string{"sh"}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shell = []string{bb, "sh"}
	} else if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatal("busybox is not installed (make tools installs it)")
	}
	harness := strings.Replace(initHarness, "CONF=$CONF_DIR/gatemq.conf\n", "CONF=$CONF_DIR/gatemq.conf\nPORTCHECK=$PORTCHECK_PATH\n", 1)
	cmd := exec.Command(shell[0], append(shell[1:], "-c", harness)...)
	cmd.Env = append(os.Environ(), "INIT="+init, "UCI2CONF_PATH="+uci2conf, "UCI_PATH="+uci, "TMP_DIR="+dir,
		"PORTCHECK_PATH="+portcheck, "UCI_data_dir="+filepath.Join(dir, "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packaged init start_service: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "var/etc/gatemq.conf")
	for _, want := range []string{
		"open_instance\nset command /usr/sbin/gatemq -c " + conf + "\n",
		"set respawn 3600 5 5\n", "set user gatemq\n", "set file " + uci + "\n", "close_instance\nexit 0\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("packaged init: no %q in:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(bytes.NewReader(b), conf, defaultConfig()); err != nil {
		t.Errorf("gatemq refuses the translated sample UCI config: %v\n%s", err, b)
	}
	if calls, _ := os.ReadFile(log); string(calls) != "portcheck 1883\n" {
		t.Errorf("port check calls %q, want the listener's port 1883", calls)
	}

	// postinst in an image root: users, groups, the service enabled.
	root := t.TempDir()
	for name, text := range map[string]string{
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
		"etc/passwd": "root:x:0:0:root:/root:/bin/ash\n",
		"lib/functions.sh": `group_exists() { grep -qs "^$1:" "$IPKG_INSTROOT/etc/group"; }
group_add() { echo "$1:x:$2:" >> "$IPKG_INSTROOT/etc/group"; }
user_exists() { grep -qs "^$1:" "$IPKG_INSTROOT/etc/passwd"; }
user_add() { echo "$1:x:$2:$3:$4:$5:$6" >> "$IPKG_INSTROOT/etc/passwd"; }
group_add_user() { sed -i "s/^$1:\(.*\):$/$1:\1:$2/" "$IPKG_INSTROOT/etc/group"; }
`,
		"etc/rc.common": "echo \"rc.common $*\" >> \"$IPKG_INSTROOT/calls\"\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd = exec.Command(shell[0], append(shell[1:], write("postinst", ctl["postinst"]))...)
	cmd.Env = append(os.Environ(), "IPKG_INSTROOT="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("postinst: %v\n%s", err, out)
	}
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	calls, _ := os.ReadFile(filepath.Join(root, "calls"))
	if !strings.Contains(string(group), "\ngatemq:x:1883:\n") || !strings.Contains(string(group), "\ndialout:x:20:gatemq\n") ||
		!strings.Contains(string(passwd), "\ngatemq:x:1883:1883:gatemq:/var/run/gatemq:/bin/false\n") ||
		string(calls) != "rc.common "+root+"/etc/init.d/gatemq enable\n" {
		t.Errorf("postinst in an image root:\n/etc/group:\n%s/etc/passwd:\n%scalls:\n%s", group, passwd, calls)
	}
}

// releaseMipsQemu runs the binary of the mips_24kc .ipk under qemu-user
// and has mosquitto_pub/sub exchange a QoS 2 and a retained message.
func releaseMipsQemu(t *testing.T, path string) {
	pub := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	qemu := requireTool(t, "qemu-mips-static", "qemu-user-static")
	_, data := ipkParts(t, path)
	bin := filepath.Join(t.TempDir(), "gatemq")
	if err := os.WriteFile(bin, data["usr/sbin/gatemq"], 0o755); err != nil {
		t.Fatal(err)
	}
	e := &emulated{t: t, qemu: qemu, bin: bin, data: t.TempDir()}
	e.start()
	m := &mosq{addr: e.addr, pub: pub, sub: sub, stdbuf: stdbuf}
	m.host, m.port, _ = net.SplitHostPort(e.addr)
	s := m.subscribe(t, "-t", "ipk/#", "-q", "2", "-C", "1")
	m.publish(t, "", "-t", "ipk/q2", "-q", "2", "-r", "-m", "from-the-ipk")
	if got := messages(t, s); !equalLines(got, []string{"ipk/q2 from-the-ipk"}) {
		t.Errorf("the packaged mips broker delivered %q", got)
	}
}
