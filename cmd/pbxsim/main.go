// Command pbxsim serves a simulated cloud PBX API (package internal/pbxsim) for local development,
// the demo and end-to-end tests. With no flags it listens on 127.0.0.1:8090 and serves the demo
// tenant, whose credentials it prints at start-up; --tls-cert and --tls-key make it serve HTTPS,
// for tests of private CAs.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// version is the pbxsim version, stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pbxsim:", err)
		os.Exit(1)
	}
}

// run serves the simulator until ctx ends, printing where and how to reach it on out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pbxsim", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	configPath := fs.String("config", "", "JSON file with the tenants, users, apps, DIDs, limits and token lifetime (default: the demo tenant)")
	statePath := fs.String("state", "", "file that keeps the world across restarts, written atomically after every change (default: memory only)")
	latency := fs.Duration("latency", 0, "latency added to every request, such as 20ms")
	jitter := fs.Duration("jitter", 0, "random latency of up to this much added on top of --latency")
	strict := fs.Bool("strict-slashes", false, "answer a URL with the wrong trailing slash with 404 (collections end with /, single objects do not)")
	admin := fs.Bool("admin", false, "serve the test and chaos controls (faults, counters, snapshot, token invalidation, simulated calls) under "+pbxsim.AdminPrefix+"/")
	seed := fs.Uint64("seed", 1, "seed for tokens, jitter and fault probabilities")
	eventTimeout := fs.Duration("event-timeout", 2*time.Second, "timeout of each delivery of a call event to a subscribed URL (POST "+pbxsim.AdminPrefix+"/calls with --admin)")
	rejectEmptyPassword := fs.Bool("reject-empty-phone-password", false,
		"ASSUMPTION switch: answer 400 to a phone PUT with an empty password (default: accepted; also assumptions.reject_empty_phone_password in --config)")
	zeroIsNone := fs.Bool("zero-id-is-none", false,
		"ASSUMPTION switch: read 0 in extension_group_id, extension_id and message_extension_id as null (default: 400, no such object; also assumptions.zero_id_is_none in --config)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate (chain) file: serve HTTPS instead of HTTP (needs --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key file of --tls-cert")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `pbxsim serves a simulated cloud PBX REST API (/api/ver1.0/) with OAuth2 client credentials.

Usage: pbxsim [flags]

With no flags it listens on 127.0.0.1:8090 and serves the demo tenant: client %d with prefix %s and
three-digit extension names, the trusted app %s and the password_credentials app %s
(secret %s for both), the client admin %s (password %s), and five DIDs.

Flags:
`, pbxsim.DemoClientID, pbxsim.DemoPrefix, pbxsim.DemoTrustedAppID, pbxsim.DemoPasswordAppID,
			pbxsim.DemoAppSecret, pbxsim.DemoAdminLogin, pbxsim.DemoAdminPassword)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(out, "pbxsim", version)
		return nil
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" || *tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("loading --tls-cert and --tls-key (both are needed): %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	cfg := pbxsim.DemoConfig()
	if *configPath != "" {
		var err error
		if cfg, err = pbxsim.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	// The flags switch assumptions on; they never switch off what the configuration file set.
	cfg.Assumptions.RejectEmptyPhonePassword = cfg.Assumptions.RejectEmptyPhonePassword || *rejectEmptyPassword
	cfg.Assumptions.ZeroIDIsNone = cfg.Assumptions.ZeroIDIsNone || *zeroIsNone
	opts := []pbxsim.Option{
		pbxsim.WithSeed(*seed), pbxsim.WithLatency(pbxsim.Latency{Fixed: *latency, Jitter: *jitter}), pbxsim.WithEventTimeout(*eventTimeout),
	}
	if *strict {
		opts = append(opts, pbxsim.WithStrictSlashes())
	}
	if *admin {
		opts = append(opts, pbxsim.WithAdmin())
	}
	if *statePath != "" {
		opts = append(opts, pbxsim.WithStateFile(*statePath))
	}
	sim, err := pbxsim.New(cfg, opts...)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String() + "/"
	fmt.Fprintf(out, "pbxsim serving %sapi/ver1.0/ (token endpoint %soauth/token)\n", base, base)
	if *configPath == "" {
		fmt.Fprintf(out, "demo tenant: client %d, prefix %s, three-digit extension names\n", pbxsim.DemoClientID, pbxsim.DemoPrefix)
		fmt.Fprintf(out, "trusted app: client_id=%s client_secret=%s\n", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret)
		fmt.Fprintf(out, "password app: client_id=%s client_secret=%s (user %s, password %s)\n",
			pbxsim.DemoPasswordAppID, pbxsim.DemoAppSecret, pbxsim.DemoAdminLogin, pbxsim.DemoAdminPassword)
	}
	if *admin {
		fmt.Fprintf(out, "admin controls: %s%s/ (simulate a call with POST %s%s/calls {\"extension\":\"101\"})\n",
			base, pbxsim.AdminPrefix[1:], base, pbxsim.AdminPrefix[1:])
	}

	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.SetFlags(0)
	log.Print("pbxsim: shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
