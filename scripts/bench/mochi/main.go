// Command mochi is mochi-mqtt/server v2 as a plain MQTT broker on one TCP
// listener, for the comparisons of scripts/bench (variants mochi and
// mochi-bolt). It has its own module so that gatemq's go.mod does not
// depend on mochi.
//
// Usage:
//
//	go build -C scripts/bench/mochi -o /tmp/mochi . && /tmp/mochi -addr 127.0.0.1:1883 [-bolt FILE]
//
// Anonymous clients are allowed and only errors are logged. Without -bolt
// the state is in memory (mochi's default); with it, the bolt storage hook
// keeps sessions, subscriptions, retained and inflight messages in a bbolt
// file (one bbolt transaction, with its fsync, per change).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"go.etcd.io/bbolt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:1883", "TCP `address` to listen on")
	boltPath := flag.String("bolt", "", "keep the state in this bbolt `file` (bolt storage hook) instead of memory")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("mochi-mqtt/server v2.6.6")
		return
	}

	srv := mqtt.New(&mqtt.Options{
		InlineClient: false,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		fatal(err)
	}
	if *boltPath != "" {
		err := srv.AddHook(new(bolt.Hook), &bolt.Options{Path: *boltPath, Options: &bbolt.Options{Timeout: 0}})
		if err != nil {
			fatal(err)
		}
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t1", Address: *addr})); err != nil {
		fatal(err)
	}
	if err := srv.Serve(); err != nil {
		fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	if err := srv.Close(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mochi:", err)
	os.Exit(1)
}
