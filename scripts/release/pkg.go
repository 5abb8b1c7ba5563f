package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/apk" // registers the packagers
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/ipk"
)

const (
	maintainer = "gatemq maintainers <gatemq@users.noreply.github.com>"
	summary    = "MQTT broker for routers and home hubs, flash-safe QoS 2"
	longDesc   = `gatemq is an MQTT 3.1.1 and 5.0 broker in one static binary, small in
RAM and careful with flash: acknowledged QoS 1 and 2 messages survive a
power cut, QoS 2 is delivered exactly once even then. It reads a
mosquitto.conf-style file (password and ACL files included) and bridges
serial sensors to MQTT.`
)

// content is one file of a package.
func (r *release) content(src, dst string, mode os.FileMode, typ string) *files.Content {
	return &files.Content{Source: src, Destination: dst, Type: typ,
		FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: r.mtime}}
}

// pack writes one package with nFPM's packager for format.
func (r *release) pack(format string, info *nfpm.Info) error {
	info.MTime = r.mtime
	info = nfpm.WithDefaults(info)
	p, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := p.Package(info, &buf); err != nil {
		return fmt.Errorf("%s %s: %w", format, info.Arch, err)
	}
	return os.WriteFile(filepath.Join(r.out, p.ConventionalFileName(info)), buf.Bytes(), 0o644)
}

// deb makes gatemq_VERSION_ARCH.deb.
//
// Conflicts: mosquitto. Both are MQTT brokers that listen on port 1883 by
// default, so with both installed one of the two services fails at every
// boot; apt's "the following packages will be REMOVED: mosquitto" says
// that plainly at install time, keeps Mosquitto's configuration (remove,
// not purge) for the migration, and leaves mosquitto-clients in place.
// Provides: mqtt-broker, the virtual package Debian's ejabberd provides.
func (r *release) deb(t target, bin string, g *generated) error {
	dir := filepath.Join(r.root, "scripts/release/debian")
	info := &nfpm.Info{
		Name: "gatemq", Arch: t.deb, Platform: "linux", Version: r.version,
		Section: "net", Priority: "optional", Maintainer: maintainer,
		Description: summary + "\n" + longDesc,
		License:     g.licenses,
		Overridables: nfpm.Overridables{
			Depends:   []string{"adduser"},
			Conflicts: []string{"mosquitto"},
			Provides:  []string{"mqtt-broker"},
			Contents: files.Contents{
				r.content(bin, "/usr/bin/gatemq", 0o755, ""),
				r.content(g.unit, "/lib/systemd/system/gatemq.service", 0o644, ""),
				r.content(g.conf, "/etc/gatemq/gatemq.conf", 0o644, files.TypeConfigNoReplace), // postinst: root:gatemq 0640,
				r.content(filepath.Join(r.root, "scripts/common/gatemq-portcheck"), "/usr/lib/gatemq/gatemq-portcheck", 0o755, ""),
				r.content(g.copyright, "/usr/share/doc/gatemq/copyright", 0o644, ""),
				r.content(g.changelog, "/usr/share/doc/gatemq/changelog.gz", 0o644, ""),
				r.content(filepath.Join(dir, "lintian-overrides"), "/usr/share/lintian/overrides/gatemq", 0o644, ""),
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(dir, "postinst"),
				PreRemove:   filepath.Join(dir, "prerm"),
				PostRemove:  filepath.Join(dir, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "gzip"},
		},
	}
	return r.pack("deb", info)
}

// openwrt makes the .ipk and the .apk for one OpenWrt architecture: the
// files of the feed package (scripts/openwrt/Makefile) plus the licenses,
// with gatemq.postinst / gatemq.prerm as the scripts.
//
// Conflicts with OpenWrt's mosquitto-ssl and mosquitto-nossl for the same
// reason as the .deb; opkg refuses the install and names the package to
// remove, apk expresses it as "!name" dependencies.
func (r *release) openwrt(arch, bin string, g *generated) error {
	ow := filepath.Join(r.root, "scripts/openwrt/files")
	contents := files.Contents{
		r.content(bin, "/usr/sbin/gatemq", 0o755, ""),
		r.content(filepath.Join(ow, "gatemq-uci2conf"), "/usr/libexec/gatemq-uci2conf", 0o755, ""),
		r.content(filepath.Join(r.root, "scripts/common/gatemq-portcheck"), "/usr/libexec/gatemq-portcheck", 0o755, ""),
		r.content(filepath.Join(ow, "gatemq.init"), "/etc/init.d/gatemq", 0o755, ""),
		r.content(filepath.Join(ow, "gatemq.config"), "/etc/config/gatemq", 0o600, files.TypeConfigNoReplace),
		r.content(filepath.Join(ow, "gatemq.keep"), "/lib/upgrade/keep.d/gatemq", 0o644, ""),
		r.content(filepath.Join(ow, "gatemq.hotplug"), "/etc/hotplug.d/tty/30-gatemq", 0o644, ""),
		r.content(filepath.Join(r.root, "LICENSE"), "/usr/share/licenses/gatemq/LICENSE", 0o644, ""),
		r.content(filepath.Join(r.root, "NOTICE"), "/usr/share/licenses/gatemq/NOTICE", 0o644, ""),
		r.content(g.thirdParty, "/usr/share/licenses/gatemq/THIRD_PARTY_LICENSES", 0o644, ""),
	}
	scripts := nfpm.Scripts{
		PostInstall: filepath.Join(ow, "gatemq.postinst"),
		PreRemove:   filepath.Join(ow, "gatemq.prerm"),
	}
	base := func() *nfpm.Info {
		return &nfpm.Info{
			Name: "gatemq", Arch: arch, Platform: "linux", Version: r.version, Release: "1",
			Section: "net", Priority: "optional", Maintainer: maintainer,
			License: g.licenses,
			Overridables: nfpm.Overridables{
				Depends:  []string{"procd"},
				Contents: contents,
				Scripts:  scripts,
			},
		}
	}

	ipk := base()
	ipk.Description = summary + "\n" + longDesc
	ipk.Conflicts = []string{"mosquitto-ssl", "mosquitto-nossl"}
	ipk.IPK = nfpm.IPK{
		// What OpenWrt's buildroot writes for USERID; informational here.
		Fields: map[string]string{"Require-User": "gatemq=1883:gatemq=1883:dialout=20"},
	}
	ipk.IPK.Arch = arch
	if err := r.pack("ipk", ipk); err != nil {
		return err
	}
	if err := installedSizeInBytes(filepath.Join(r.out, fmt.Sprintf("gatemq_%s-1_%s.ipk", r.version, arch))); err != nil {
		return err
	}

	apk := base()
	apk.Description = summary // apk's pkgdesc is one line
	apk.Depends = append(apk.Depends, "!mosquitto-ssl", "!mosquitto-nossl")
	apk.APK.Arch = arch
	apk.APK.Scripts.PostUpgrade = scripts.PostInstall
	return r.pack("apk", apk)
}
