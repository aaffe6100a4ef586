package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Relay connects a container's terminal to rt's own standard streams for a
// foreground `rt run` or `rt exec` without a console socket: it copies in to
// master (keyboard to container) and master to out (container to screen)
// until the container's side of the terminal is gone, and returns once all
// output has been written to out.
//
// The end of output is the read on master failing with EIO, which is what
// the kernel does after the last descriptor of the slave is closed (the
// container's process and everything that inherited the terminal exited)
// and everything written before that has been read. So output written just
// before exit is not lost, EIO is not reported as an error, and Relay does
// not return while anything, such as a daemonised child, still holds the
// slave. rt itself must not hold the slave open, or Relay never returns.
//
// If in is a terminal it is put into raw mode, so keys such as ^C and ^D go
// to the container's terminal (which applies its own line discipline)
// rather than acting on rt, and restored before Relay returns. A process
// killed while in Relay leaves the terminal raw. The window size of in (or
// of out, if only out is a terminal) is copied to the pty at the start and
// on every SIGWINCH until Relay returns; resize failures are ignored, as a
// wrong size must not cut the container off from its terminal.
//
// in may be nil for no input. When in is not a terminal and reaches end of
// file, Relay types the container terminal's end-of-file character (twice
// after a partial line), so that a program reading a piped-in stdin sees
// its end as it would at a keyboard; otherwise it would wait for more input
// forever. A terminal in never reaches end of file: its ^D is passed on.
//
// Copying from in happens in a goroutine that Relay does not wait for: a
// read on in cannot be interrupted in general, so it may stay blocked after
// Relay returns and may then consume, and drop, input typed afterwards. That
// is fine for a CLI about to exit; a longer-lived caller should pass an in
// it can close, which ends the goroutine. Closing master also ends it (and
// makes Relay return an error wrapping os.ErrClosed, if master is on Go's
// poller).
//
// A write error on out ends Relay with that error; the container may then
// block writing to its terminal until master is closed.
func Relay(master, in *os.File, out io.Writer) (err error) {
	inTerminal := in != nil && isTerminal(in)
	if inTerminal {
		restore, rawErr := makeRaw(in)
		if rawErr != nil {
			return fmt.Errorf("relay terminal: %w", rawErr)
		}
		defer func() {
			if rerr := restore(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("relay terminal: %w", rerr))
			}
		}()
	}

	var sizeFrom *os.File
	if inTerminal {
		sizeFrom = in
	} else if f, ok := out.(*os.File); ok && isTerminal(f) {
		sizeFrom = f
	}
	if sizeFrom != nil {
		stop := forwardResizes(sizeFrom, master)
		// Deferred after the restore above, so it runs first: no resize
		// lands on the pty once Relay has returned.
		defer stop()
	}

	if in != nil {
		go copyInput(master, in, !inTerminal)
	}
	return copyOutput(out, master)
}

// copyOutput copies master to out until the slave is gone.
func copyOutput(out io.Writer, master *os.File) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return fmt.Errorf("relay container output: %w", werr)
			}
		}
		if err != nil {
			// EIO: every slave descriptor is closed and the buffer is
			// drained. io.EOF does not come from a pty but means the same.
			if errors.Is(err, syscall.EIO) || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("relay container output: %w", err)
		}
	}
}

// copyInput copies in to master until either fails. Errors are dropped: a
// failed write means the container's terminal is gone, which copyOutput
// sees and reports as the end, and a failed read of rt's stdin leaves the
// container without further input, as closing it would.
func copyInput(master, in *os.File, sendEOF bool) {
	buf := make([]byte, 32<<10)
	// lastLine tracks whether the input so far ended at a line boundary,
	// which decides how many EOF characters the line discipline needs.
	lastLine := true
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := master.Write(buf[:n]); werr != nil {
				return
			}
			lastLine = buf[n-1] == '\n'
		}
		if err == nil {
			continue
		}
		if err == io.EOF && sendEOF {
			writeEOF(master, lastLine)
		}
		return
	}
}

// writeEOF types the slave's end-of-file character (normally ^D), as a
// user at a keyboard would. In canonical mode it ends a pending partial line
// without a newline, so after a partial line a second one is needed for the
// read that returns 0. A program that reads its terminal raw (a shell's line
// editor, say) gets the character as a key press, which is how such
// programs expect to learn of end of input.
func writeEOF(master *os.File, atLineStart bool) {
	var eof byte
	err := withFd(master, func(fd int) error {
		// Termios requests on a pty master act on the slave's settings.
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return err
		}
		eof = t.Cc[unix.VEOF]
		return nil
	})
	if err != nil || eof == 0 { // 0 is _POSIX_VDISABLE: no EOF character.
		return
	}
	seq := []byte{eof}
	if !atLineStart {
		seq = append(seq, eof)
	}
	master.Write(seq)
}

// forwardResizes copies from's window size to to now and on every SIGWINCH,
// until the returned stop is called; stop returns once no more copying can
// happen.
func forwardResizes(from, to *os.File) (stop func()) {
	winch := make(chan os.Signal, 1)
	// Subscribe before the first copy so that a change between the two is
	// not missed.
	signal.Notify(winch, unix.SIGWINCH)
	copySize(from, to)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-winch:
				copySize(from, to)
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(winch)
		close(done)
		wg.Wait()
	}
}

// copySize sets to's window size to from's, best effort.
func copySize(from, to *os.File) {
	var ws *unix.Winsize
	err := withFd(from, func(fd int) error {
		var err error
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	})
	if err != nil {
		return
	}
	_ = Resize(to, uint(ws.Row), uint(ws.Col))
}

// makeRaw puts terminal f into raw mode (as cfmakeraw(3) does: no echo, no
// line editing, no signal keys, no input or output translation, 8-bit
// characters, reads return as soon as one byte is there) and returns a
// function restoring the previous settings.
func makeRaw(f *os.File) (restore func() error, err error) {
	var saved unix.Termios
	err = withFd(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return fmt.Errorf("get terminal settings of %s: %w", f.Name(), err)
		}
		saved = *t
		raw := *t
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN] = 1
		raw.Cc[unix.VTIME] = 0
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
			return fmt.Errorf("set raw mode on %s: %w", f.Name(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		return withFd(f, func(fd int) error {
			// TCSETSW (after output drains) would block behind a stuck
			// terminal; the settings must come back regardless.
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &saved); err != nil {
				return fmt.Errorf("restore terminal settings of %s: %w", f.Name(), err)
			}
			return nil
		})
	}, nil
}
