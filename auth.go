package main

import (
	"fmt"
	"log/slog"

	"gatemq/mqtt"
	"gatemq/mqtt/auth"
)

// loadAuth reads password_file and acl_file and decides allow_anonymous
// with Mosquitto 2's default: anonymous clients are allowed only while the
// broker listens on loopback addresses alone, unless the config says
// otherwise.
func loadAuth(cfg Config, loopbackOnly bool) (*mqtt.Auth, error) {
	a := &mqtt.Auth{AllowAnonymous: loopbackOnly}
	if cfg.AllowAnonymousSet {
		a.AllowAnonymous = cfg.AllowAnonymous
	}
	if cfg.PasswordFile != "" {
		p, err := auth.Load(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		a.Passwords = p
	}
	if cfg.ACLFile != "" {
		acl, err := auth.LoadACL(cfg.ACLFile)
		if err != nil {
			return nil, fmt.Errorf("acl_file: %w", err)
		}
		a.ACL = acl
	}
	return a, nil
}

// reloadAuth re-reads the config file and its password and ACL files on
// SIGHUP and puts them in force without dropping connections. A broken file
// keeps the access control in force and says why.
func reloadAuth(cfgPath string, loopbackOnly bool, broker *mqtt.Server, log *slog.Logger) {
	cfg := DefaultConfig()
	if cfgPath != "" {
		var err error
		if cfg, err = LoadConfigFile(cfgPath, cfg); err != nil {
			log.Error("reload failed; keeping the access control in force", "err", err)
			return
		}
	}
	a, err := loadAuth(cfg, loopbackOnly)
	if err != nil {
		log.Error("reload failed; keeping the access control in force", "err", err)
		return
	}
	broker.SetAuth(a)
	log.Info("reloaded password and ACL files", "password_file", cfg.PasswordFile, "acl_file", cfg.ACLFile, "allow_anonymous", a.AllowAnonymous)
}
