// Command suiji-ferretdb runs FerretDB v1 with its SQLite backend as a
// MongoDB-protocol server for suiji's local stack (`make run`, `make test`).
//
// It lives in a nested module so that FerretDB's dependencies stay out of
// suiji's go.mod, and it embeds FerretDB's library package because `go
// install` of FerretDB's own command fails its version-file check. Production
// runs real MongoDB; this program is for development and tests only.
//
// Usage:
//
//	suiji-ferretdb -listen 127.0.0.1:27017 -dir var/ferretdb
//
// It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "var/ferretdb", "folder for the SQLite data files")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dir, *level); err != nil {
		fmt.Fprintln(os.Stderr, "suiji-ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dir, level string) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}

	logger := slog.New(lazyAttrs{h: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Warn("FerretDB listening", "addr", listen, "dir", abs)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// lazyAttrs keeps the attributes of Logger.With until a record is
// logged. FerretDB's SQL layer calls With(args) twice per statement,
// logging at debug level, and slog's text handler formats the attributes
// when With is called: below debug level every statement paid for
// printing its arguments — the whole JSON of every document it wrote —
// which was a quarter of an insert's time.
type lazyAttrs struct {
	h     slog.Handler
	attrs []slog.Attr
}

func (l lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return l.handler().Handle(ctx, r)
}

func (l lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lazyAttrs{h: l.h, attrs: append(l.attrs[:len(l.attrs):len(l.attrs)], attrs...)}
}

func (l lazyAttrs) WithGroup(name string) slog.Handler {
	return lazyAttrs{h: l.handler().WithGroup(name)}
}

// handler is the wrapped handler with the attributes kept so far.
func (l lazyAttrs) handler() slog.Handler {
	if len(l.attrs) == 0 {
		return l.h
	}
	return l.h.WithAttrs(l.attrs)
}
