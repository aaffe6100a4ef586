package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
)

// tlsFlags are the PEM files of a TLS page transfer: --tls-cacert,
// --tls-cert and --tls-key, all three or none.
type tlsFlags struct{ caCert, cert, key string }

func (tf *tlsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&tf.caCert, "tls-cacert", "", "PEM file of the CA that signed the peer's certificate (TLS page transfer)")
	fs.StringVar(&tf.cert, "tls-cert", "", "PEM file of this side's certificate (TLS page transfer)")
	fs.StringVar(&tf.key, "tls-key", "", "PEM file of this side's private key (TLS page transfer)")
}

// files returns the TLS files, nil without any.
func (tf *tlsFlags) files(cmd *cobra.Command) (*api.PageServerTLS, error) {
	if tf.caCert == "" && tf.cert == "" && tf.key == "" {
		return nil, nil
	}
	if tf.caCert == "" || tf.cert == "" || tf.key == "" {
		return nil, usageError(cmd, "--tls-cacert, --tls-cert and --tls-key go together")
	}
	return &api.PageServerTLS{CACert: tf.caCert, Cert: tf.cert, Key: tf.key}, nil
}

// untilSignal is ctx, ended by SIGINT or SIGTERM, whose name is then its
// cause: the daemon is killed and its error says why.
func untilSignal(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(fmt.Errorf("%s received", unix.SignalName(s.(unix.Signal))))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// NewPageServerCommand is rt-checkpoint's `page-server`: CRIU's page server
// in the foreground, receiving the pages of one `checkpoint --page-server`.
func NewPageServerCommand(e *Env) *cobra.Command {
	var o api.PageServerOpts
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "page-server --image-path DIR --port PORT [flags]",
		Short: "receive the memory pages of one checkpoint --page-server",
		Long: "Page-server runs CRIU's page server until the dump that connects to it is over. " +
			"--port 0 lets the system pick a port, printed on stdout once it listens. SIGINT and SIGTERM kill it.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ImagePath == "" {
				return usageError(cmd, "--image-path is required")
			}
			if !cmd.Flags().Changed("port") {
				return usageError(cmd, "--port is required (0 picks a free one)")
			}
			if o.Port < 0 || o.Port > 65535 {
				return usageError(cmd, "--port %d: not a TCP port", o.Port)
			}
			tls, err := tf.files(cmd)
			if err != nil {
				return err
			}
			o.TLS = tls
			pr, err := runtimeAs[api.PageServerRunner](e, "page-server")
			if err != nil {
				return err
			}
			if o.Port == 0 {
				o.OnListening = func(port int) { fmt.Fprintln(e.Stdout, port) }
			}
			ctx, stop := untilSignal(cmd.Context())
			defer stop()
			return pr.PageServer(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ImagePath, "image-path", "", "directory the received pages go to (created if missing)")
	f.StringVar(&o.WorkPath, "work-path", "", "directory for CRIU's page-server.log (default: --image-path)")
	f.StringVar(&o.Address, "address", "", "address to listen on (default: all)")
	f.IntVar(&o.Port, "port", 0, "TCP port to listen on; 0 picks a free one and prints it")
	tf.register(f)
	return cmd
}

// NewLazyPagesCommand is rt-checkpoint's `lazy-pages`: CRIU's lazy-pages
// daemon in the foreground, serving a `restore --lazy-pages` the pages of
// --image-path or of the dumping criu at --address:--port.
func NewLazyPagesCommand(e *Env) *cobra.Command {
	var o api.LazyPagesOpts
	var tf tlsFlags
	var fromServer bool
	cmd := &cobra.Command{
		Use:   "lazy-pages --image-path DIR [--page-server --address ADDR --port PORT] [flags]",
		Short: "serve the memory pages of a restore --lazy-pages",
		Long: "Lazy-pages runs CRIU's lazy-pages daemon until the restored processes have all their pages. " +
			"With --page-server it fetches them from the criu of a checkpoint --lazy-pages --page-server, " +
			"else from --image-path. Restore with the same --work-path (or none). SIGINT and SIGTERM kill it.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ImagePath == "" {
				return usageError(cmd, "--image-path is required")
			}
			tls, err := tf.files(cmd)
			if err != nil {
				return err
			}
			o.TLS = tls
			if err := checkLazyServer(cmd, fromServer, &o); err != nil {
				return err
			}
			pr, err := runtimeAs[api.PageServerRunner](e, "lazy-pages")
			if err != nil {
				return err
			}
			ctx, stop := untilSignal(cmd.Context())
			defer stop()
			return pr.LazyPages(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ImagePath, "image-path", "", "images of the checkpoint --lazy-pages to restore")
	f.StringVar(&o.WorkPath, "work-path", "", "directory for the daemon's socket and lazy-pages.log (default: --image-path); restore's --work-path must be the same")
	f.BoolVar(&fromServer, "page-server", false, "fetch the pages from the page server at --address:--port")
	f.StringVar(&o.Address, "address", "", "address of the page server (with --page-server)")
	f.IntVar(&o.Port, "port", 0, "port of the page server (with --page-server)")
	tf.register(f)
	return cmd
}

// checkLazyServer checks that --address, --port and the TLS files come
// with --page-server, and that it has the first two.
func checkLazyServer(cmd *cobra.Command, fromServer bool, o *api.LazyPagesOpts) error {
	if !fromServer {
		for _, fl := range []string{"address", "port", "tls-cacert", "tls-cert", "tls-key"} {
			if cmd.Flags().Changed(fl) {
				return usageError(cmd, "--%s needs --page-server (the pages are in --image-path without it)", fl)
			}
		}
		return nil
	}
	if o.Address == "" {
		return usageError(cmd, "--page-server needs --address")
	}
	if o.Port <= 0 || o.Port > 65535 {
		return usageError(cmd, "--page-server needs --port (1-65535), got %d", o.Port)
	}
	return nil
}
