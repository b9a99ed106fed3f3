package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// shutdownTimeout bounds the graceful stop.
const shutdownTimeout = 10 * time.Second

// run parses args, listens, serves until ctx ends, then shuts down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defURLs := os.Getenv("ASPNETCORE_URLS")
	if defURLs == "" {
		defURLs = "http://127.0.0.1:5000"
	}
	urls := fs.String("urls", defURLs, "semicolon-separated http:// addresses to listen on (port 0: any free port)")
	verbose := fs.Bool("verbose", false, "log the hub runtime and transports at debug level to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	logger := zerolog.Nop()
	if *verbose {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	}

	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, u := range strings.Split(*urls, ";") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "http" || pu.Host == "" {
			closeAll()
			return fmt.Errorf("--urls: %q is not an http://host:port address (https is not supported)", u)
		}
		host := pu.Host
		if pu.Port() == "" {
			host = net.JoinHostPort(pu.Hostname(), "80")
		}
		l, err := net.Listen("tcp", host)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s: %w", u, err)
		}
		listeners = append(listeners, l)
	}
	if len(listeners) == 0 {
		return errors.New("--urls: no address")
	}

	a, err := newApp(logger)
	if err != nil {
		closeAll()
		return err
	}
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdlog.New(logger, "", 0),
	}
	serveErr := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", l.Addr(), err)
			}
		}()
	}
	for _, l := range listeners {
		fmt.Fprintf(stdout, "Now listening on: http://%s\n", l.Addr())
	}
	fmt.Fprintln(stdout, "Application started. Press Ctrl+C to shut down.")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Hubs first: clients get their Close message while HTTP still serves
	// the Long Polling requests that carry it.
	a.shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	a.close()
	wg.Wait()
	return runErr
}
