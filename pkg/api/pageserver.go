package api

import "context"

// PageServerTLS are the PEM files of an encrypted page transfer, CRIU's
// --tls-cacert, --tls-cert and --tls-key. Both ends need all three: each
// proves itself with its certificate and checks the other's against the
// CA. The peer's common name is not checked (CRIU's --tls-no-cn-verify):
// the certificates are made for one transfer, not for a host name.
type PageServerTLS struct {
	CACert string
	Cert   string
	Key    string
}

// PageServerRunner runs CRIU's page server and lazy-pages daemon in the
// foreground (rt-checkpoint's page-server and lazy-pages commands). It is
// optional: the CLI discovers it by type assertion, as it does
// ImageInspector.
type PageServerRunner interface {
	// PageServer receives the pages of one dump (checkpoint
	// --page-server) into opts.ImagePath and returns once that dump's
	// connection is over, or with ctx's end (the server killed).
	PageServer(ctx context.Context, opts PageServerOpts) error
	// LazyPages serves the pages of a lazy restore (restore --lazy-pages)
	// until the restored processes have them all, or until ctx ends (the
	// daemon killed).
	LazyPages(ctx context.Context, opts LazyPagesOpts) error
}

// PageServerOpts are the options of a page server.
type PageServerOpts struct {
	// ImagePath is where the received pages go (created 0700 if
	// missing); WorkPath, if set, where CRIU's page-server.log goes
	// (else ImagePath).
	ImagePath string
	WorkPath  string
	// Address is the address to listen on, "" for all.
	Address string
	// Port is the TCP port to listen on; 0 lets the system pick one,
	// which OnListening reports.
	Port int
	// TLS, when set, encrypts the transfer (the dump must use TLS too).
	TLS *PageServerTLS
	// OnListening, when set, is called with the port once the server
	// listens, before PageServer waits for the dump.
	OnListening func(port int)
}

// LazyPagesOpts are the options of a lazy-pages daemon.
type LazyPagesOpts struct {
	// ImagePath holds the images of a --lazy-pages dump; the daemon makes
	// its socket, lazy-pages.socket, in WorkPath if set, else here. The
	// restore must be given the same --work-path (or none), as CRIU's
	// restore looks for the socket in its own work directory.
	ImagePath string
	WorkPath  string
	// Address and Port are those of the page server of the dumping CRIU
	// (checkpoint --lazy-pages --page-server) to fetch the pages from;
	// Address "" means the pages are in ImagePath.
	Address string
	Port    int
	// TLS, when set, encrypts the transfer (the dump must use TLS too).
	TLS *PageServerTLS
}
