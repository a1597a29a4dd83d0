package uart

// Feasibility spike: go.bug.st/serial v1.8.0 on Linux pseudo-terminals made
// with github.com/creack/pty v1.1.24, the slave opened by its path
// (/dev/pts/N) exactly as a real /dev/ttyUSB0 would be. Observed on Linux
// (kernel of the CI image, Go 1.26); each finding is asserted by a test below.
//
// What works
//   - serial.Open(slavePath, &serial.Mode{BaudRate: 115200, ...}) succeeds:
//     termios get/set, raw mode, baud rate (any value, even 12345 via
//     termios2), TIOCEXCL, Drain, Break and ResetInputBuffer all accept a
//     pty. The pty ignores the baud rate; bytes move at memory speed.
//   - Data is 8-bit clean both ways: raw mode turns off ICRNL, OPOST, echo,
//     XON/XOFF and signals, so "\r\n" arrives as "\r\n" and all 256 byte
//     values pass unchanged.
//   - Read returns what is available (VMIN=1): split writes arrive as one or
//     more reads whose concatenation is exact; the reader must frame lines.
//   - SetReadTimeout(d) bounds each Read; on expiry Read returns (0, nil) —
//     no error at all, neither a timeout error nor io.EOF.
//     SetReadTimeout(serial.NoTimeout) blocks again; a negative timeout
//     other than NoTimeout is *serial.PortError{InvalidTimeoutValue}.
//     Because (0, nil) bends the io.Reader contract, a port with a timeout
//     must not go straight into bufio: after 100 empty reads bufio.Reader
//     fails with io.ErrNoProgress (asserted below). The driver's reader loop
//     treats (0, nil) as "nothing yet" and frames lines itself.
//
// What does not
//   - Modem lines: SetDTR, SetRTS and GetModemStatusBits fail with ENOTTY
//     ("inappropriate ioctl for device"), and so does serial.Open when
//     Mode.InitialStatusBits is non-nil (it returns *serial.PortError code
//     InvalidSerialPort, "error getting modem bits status: inappropriate
//     ioctl for device"; PortError has no Unwrap, so errors.Is(err,
//     syscall.ENOTTY) is false). A driver must leave InitialStatusBits nil
//     (or make it configurable) and treat modem-line errors as unsupported.
//   - TIOCEXCL does not stop a second Open by root (CAP_SYS_ADMIN bypasses
//     it); non-root gets PortBusy. Not a substitute for our own locking.
//
// The peer vanishing (master closed: the kernel hangs the slave tty up. A
// USB adapter unplugged should look the same — usb-serial hangs its tty up,
// and the library's own comment describes the zero-length read — but that
// was not tried on hardware)
//   - Bytes the port has not yet read when the master closes are discarded
//     by the hang-up: writing "partial" and closing at once delivered nothing
//     in 300 of 300 trials. A line cut off by a vanishing device is lost.
//   - Every Read from then on — blocked before the close or issued after it,
//     with or without a read timeout — returns (0, *serial.PortError) with
//     Code() == serial.PortClosed, "Port has been closed". Not io.EOF, not
//     a timeout: the library maps the hung-up tty's zero-length read
//     to PortClosed. But (found later, by the driver's tests under load) a
//     Read that runs in the moment between the master's close and the
//     slave's hang-up fails with a bare EIO: n_tty fails reads once the
//     other side is marked closed. About once in a few thousand hang-ups. It is the same code a Read gets after our own
//     port.Close(), so the driver must remember whether it closed the port
//     itself; PortClosed while not closing means the device vanished.
//   - Write returns (0, syscall.EIO), "input/output error".
//   - The slave path disappears at once (stat: ENOENT), even while the port
//     still holds the slave open; serial.Open(path) then returns a bare
//     syscall.Errno ENOENT (errors.Is(err, fs.ErrNotExist) is true), not a
//     *serial.PortError{PortNotFound}. Reopening with back-off until the
//     path is back is the recovery.
//   - port.Close() after the hang-up returns nil; a second Close returns nil.
//
// Our own Close
//   - A Read blocked when port.Close() runs returns PortClosed — usually.
//     About 1 run in 20000 (TestPtyLocalCloseLooksLikeHangup, -count=40000)
//     it returns a bare syscall.EBADF: Close closes the descriptor before
//     signalling readers, so a Read that has passed its "still open" check
//     hands select(2) a closed descriptor. Had another goroutine opened a
//     file in that instant and been given the same number, the Read would
//     have waited on, and read from, that file. The driver must therefore
//     (a) treat every Read error after it called Close as "closed", and
//     (b) not Close a port while its reader goroutine may be inside Read if
//     it can avoid it: set a read timeout (say 100 ms), tell the reader to
//     stop, and let the reader itself Close after its Read returns.
//
// Hazards found reading the library (serial_unix.go, unixutils/select.go)
//   - Read waits in select(2) on a unix.FdSet: if the port's descriptor (or
//     its internal close-signal pipe) is 1024 or above, Read panics with
//     "index out of range" (asserted below). Go raises RLIMIT_NOFILE at
//     start-up, so a long-running agent with many sockets can get there.
//     The driver's reader goroutine must recover, or the agent must keep
//     descriptors low.
//   - Write has no timeout: unix.Write on a blocking descriptor. A device
//     that stops draining (flow control, a full pty) blocks the writer, so
//     writes too belong off the loop, in a goroutine.
//
// Least-bad workaround if either hazard bites: open the device with
// os.OpenFile(path, O_RDWR|O_NOCTTY|O_NONBLOCK) and set raw termios with
// golang.org/x/sys/unix ourselves (about 30 lines, as serial does). A tty
// *os.File uses the runtime poller: SetReadDeadline works (expiry is
// os.ErrDeadlineExceeded), Close wakes a blocked Read with os.ErrClosed and
// without a descriptor race, there is no select(2) and no descriptor limit,
// and after a hang-up Read returns io.EOF and Write EIO — checked below, on
// the pty's own slave file.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.bug.st/serial"
)

// safety bounds every blocking read in these tests so that a regression
// fails instead of hanging; nothing is asserted about elapsed time.
const safety = 10 * time.Second

// openPair makes a pty and opens its slave by path through go.bug.st/serial.
// The pty package's own slave descriptor is closed, so the port is the only
// holder of the slave, as with a real device.
func openPair(t *testing.T) (master *os.File, port serial.Port, path string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	path = slave.Name()
	port, err = serial.Open(path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		master.Close()
		slave.Close()
		t.Fatalf("serial.Open(%s): %v", path, err)
	}
	if err := slave.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		port.Close()
		master.Close()
	})
	return master, port, path
}

// readN reads from r until it has n bytes.
func readN(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(got) < n {
		k, err := r.Read(buf[:n-len(got)])
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		if k == 0 {
			t.Fatalf("read timed out after %q (safety bound)", got)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// portReader reads a port with the safety bound set.
func portReader(t *testing.T, port serial.Port) io.Reader {
	t.Helper()
	if err := port.SetReadTimeout(safety); err != nil {
		t.Fatal(err)
	}
	return port
}

// masterReader reads the master with the safety bound set.
func masterReader(t *testing.T, master *os.File) io.Reader {
	t.Helper()
	if err := master.SetReadDeadline(time.Now().Add(safety)); err != nil {
		t.Fatal(err)
	}
	return master
}

func portCode(err error) (serial.PortErrorCode, bool) {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		return pe.Code(), true
	}
	return 0, false
}

func TestPtyOpensBySlavePath(t *testing.T) {
	_, port, path := openPair(t)
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Errorf("slave path %q, want /dev/pts/N", path)
	}
	for _, baud := range []int{9600, 115200, 12345} {
		if err := port.SetMode(&serial.Mode{BaudRate: baud}); err != nil {
			t.Errorf("SetMode(%d baud): %v", baud, err)
		}
	}
	if err := port.Drain(); err != nil {
		t.Errorf("Drain: %v", err)
	}
	if err := port.ResetInputBuffer(); err != nil {
		t.Errorf("ResetInputBuffer: %v", err)
	}
	if err := port.Break(time.Microsecond); err != nil {
		t.Errorf("Break: %v", err)
	}
	// A second open: root bypasses TIOCEXCL, others get PortBusy.
	second, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err == nil {
		second.Close()
		t.Logf("second Open of %s succeeded (euid %d): TIOCEXCL does not bind this user", path, os.Geteuid())
	} else if code, ok := portCode(err); !ok || code != serial.PortBusy {
		t.Errorf("second Open of %s: %v, want success or PortBusy", path, err)
	}
}

func TestPtyHasNoModemLines(t *testing.T) {
	_, port, path := openPair(t)
	if err := port.SetDTR(true); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("SetDTR: %v, want ENOTTY", err)
	}
	if err := port.SetRTS(true); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("SetRTS: %v, want ENOTTY", err)
	}
	if bits, err := port.GetModemStatusBits(); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("GetModemStatusBits: %v, %v; want ENOTTY", bits, err)
	}
	_, err := serial.Open(path, &serial.Mode{BaudRate: 115200, InitialStatusBits: &serial.ModemOutputBits{DTR: true, RTS: true}})
	if code, ok := portCode(err); !ok || code != serial.InvalidSerialPort ||
		!strings.Contains(err.Error(), "inappropriate ioctl for device") || errors.Is(err, syscall.ENOTTY) {
		t.Errorf("Open with InitialStatusBits: %v; want InvalidSerialPort naming ENOTTY, not unwrappable", err)
	}
}

func TestPtyBytesPassUnchanged(t *testing.T) {
	master, port, _ := openPair(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, msg := range [][]byte{[]byte("hello\r\n"), all} {
		if _, err := master.Write(msg); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, portReader(t, port), len(msg)); !bytes.Equal(got, msg) {
			t.Errorf("master→port: got % x, want % x", got, msg)
		}
		if _, err := port.Write(msg); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, masterReader(t, master), len(msg)); !bytes.Equal(got, msg) {
			t.Errorf("port→master: got % x, want % x", got, msg)
		}
	}
}

func TestPtySplitWrites(t *testing.T) {
	master, port, _ := openPair(t)
	pieces := []string{"Li", "ne 1\r", "\n", "Line 2\r\nLi", "ne 3\r\n"}
	want := strings.Join(pieces, "")

	for _, p := range pieces {
		if _, err := master.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readN(t, portReader(t, port), len(want)); string(got) != want {
		t.Errorf("master→port split writes: got %q, want %q", got, want)
	}

	for _, p := range pieces {
		if _, err := port.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readN(t, masterReader(t, master), len(want)); string(got) != want {
		t.Errorf("port→master split writes: got %q, want %q", got, want)
	}

	// Read returns what is there instead of waiting to fill its buffer.
	if _, err := master.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := portReader(t, port).Read(buf)
	if err != nil || n < 1 || n > 2 || string(buf[:n]) != "ab"[:n] {
		t.Errorf("Read with 2 bytes pending into 64: %q, %v", buf[:n], err)
	}
}

func TestPtyReadTimeoutReturnsZeroAndNoError(t *testing.T) {
	master, port, _ := openPair(t)
	if err := port.SetReadTimeout(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := port.Read(buf) // nothing was written: must expire
	if n != 0 || err != nil {
		t.Errorf("Read on timeout = %d, %v; want 0, nil", n, err)
	}

	// Data still arrives through a port that has a timeout set.
	if _, err := master.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, portReader(t, port), 1); string(got) != "x" {
		t.Errorf("after a timeout: got %q", got)
	}

	// bufio gives up on a port that keeps timing out.
	if err := port.SetReadTimeout(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(port).ReadString('\n'); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("bufio ReadString on a silent port with a timeout: %q, %v; want io.ErrNoProgress", line, err)
	}

	if err := port.SetReadTimeout(-2 * time.Second); err == nil {
		t.Error("SetReadTimeout(-2s) accepted")
	} else if code, ok := portCode(err); !ok || code != serial.InvalidTimeoutValue {
		t.Errorf("SetReadTimeout(-2s): %v, want InvalidTimeoutValue", err)
	}
	if err := port.SetReadTimeout(serial.NoTimeout); err != nil {
		t.Errorf("SetReadTimeout(NoTimeout): %v", err)
	}
}

// TestPtyMasterClosedMidLine: the device sends a line and half of the next,
// the port reads them, then the device vanishes.
func TestPtyMasterClosedMidLine(t *testing.T) {
	master, port, path := openPair(t)
	if _, err := master.Write([]byte("Line 1\r\nLi")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, portReader(t, port), 10); string(got) != "Line 1\r\nLi" {
		t.Fatalf("before close: got %q", got)
	}

	// A reader blocked in Read (or about to be: both orders must end alike).
	if err := port.SetReadTimeout(serial.NoTimeout); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	blocked := make(chan result, 1)
	go func() {
		n, err := port.Read(make([]byte, 16))
		blocked <- result{n, err}
	}()
	if err := master.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-blocked
	if code, ok := portCode(r.err); r.n != 0 || (!ok || code != serial.PortClosed) && !errors.Is(r.err, syscall.EIO) {
		t.Fatalf("blocked Read at hang-up = %d, %v (%T); want 0, PortClosed (or, rarely, EIO)", r.n, r.err, r.err)
	}
	if _, ok := portCode(r.err); ok && r.err.Error() != "Port has been closed" || errors.Is(r.err, io.EOF) {
		t.Errorf("hang-up error %q: want exactly PortClosed (or EIO), not EOF", r.err)
	}

	// Later reads, with and without a timeout, fail the same way at once.
	for _, timeout := range []time.Duration{serial.NoTimeout, safety} {
		if err := port.SetReadTimeout(timeout); err != nil {
			t.Fatal(err)
		}
		n, err := port.Read(make([]byte, 16))
		if code, ok := portCode(err); n != 0 || (!ok || code != serial.PortClosed) && !errors.Is(err, syscall.EIO) {
			t.Errorf("Read after hang-up (timeout %v) = %d, %v; want PortClosed (or, in the hang-up's first moment, EIO)", timeout, n, err)
		}
	}

	n, err := port.Write([]byte("AT\r\n"))
	if n != 0 || !errors.Is(err, syscall.EIO) {
		t.Errorf("Write after hang-up = %d, %v; want 0, EIO", n, err)
	}

	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat %s after hang-up: %v, want not exist", path, err)
	}
	reopened, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	var errno syscall.Errno
	if err == nil {
		reopened.Close()
		t.Errorf("reopen of %s after hang-up succeeded", path)
	} else if !errors.As(err, &errno) || errno != syscall.ENOENT || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reopen of %s after hang-up: %v (%T), want a bare ENOENT", path, err, err)
	}

	if err := port.Close(); err != nil {
		t.Errorf("Close after hang-up: %v", err)
	}
	if err := port.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPtyUnreadBytesLostOnHangup: bytes still in flight when the master
// closes are discarded. At most a prefix can arrive (none did in 300 trials),
// then PortClosed.
func TestPtyUnreadBytesLostOnHangup(t *testing.T) {
	master, port, _ := openPair(t)
	if _, err := master.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := master.Close(); err != nil {
		t.Fatal(err)
	}
	r := portReader(t, port)
	var got []byte
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if code, ok := portCode(err); !ok || code != serial.PortClosed {
				t.Fatalf("Read after hang-up: %v, want PortClosed", err)
			}
			break
		}
		if n == 0 {
			t.Fatal("Read timed out after hang-up (safety bound)")
		}
	}
	if !strings.HasPrefix("partial", string(got)) {
		t.Errorf("got %q, want a prefix of %q", got, "partial")
	}
	t.Logf("bytes delivered before PortClosed: %q", got)
}

// TestPtyLocalCloseLooksLikeHangup: our own Close wakes a blocked Read with
// the very error a vanished device gives (or, racing, EBADF).
func TestPtyLocalCloseLooksLikeHangup(t *testing.T) {
	_, port, _ := openPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := port.Read(make([]byte, 16))
		done <- err
	}()
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	// Usually PortClosed; about 1 run in 20000 the Read passed its "opened"
	// check just before Close closed the descriptor, and select(2) failed
	// with EBADF (see the header comment).
	if err := <-done; !errors.Is(err, syscall.EBADF) {
		if code, ok := portCode(err); !ok || code != serial.PortClosed {
			t.Errorf("Read woken by Close: %v (%T), want PortClosed or EBADF", err, err)
		}
	}
	if _, err := port.Read(make([]byte, 16)); err == nil {
		t.Error("Read after Close succeeded")
	} else if code, ok := portCode(err); !ok || code != serial.PortClosed {
		t.Errorf("Read after Close: %v, want PortClosed", err)
	}
}

// TestSerialReadPanicsAboveFD1023 pins a hazard of go.bug.st/serial v1.8.0:
// Read uses select(2) with a fixed 1024-bit FdSet. If this test starts
// failing, the library no longer panics and the driver's recover can go.
func TestSerialReadPanicsAboveFD1023(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 1200 {
		t.Skipf("descriptor limit %d too low to reach fd 1024", lim.Cur)
	}
	for range 1050 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
	}
	master, port, _ := openPair(t)
	if _, err := master.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	panicked := func() (p any) {
		defer func() { p = recover() }()
		port.Read(make([]byte, 1))
		return nil
	}()
	if panicked == nil {
		t.Fatal("Read with a descriptor above 1023 did not panic: the library changed, revisit the driver's recover")
	}
	t.Logf("Read panicked: %v", panicked)
}

// TestTTYFileAlternative records how a plain *os.File on a tty behaves, the
// workaround should the serial package's hazards bite: deadline errors, then
// io.EOF on read and EIO on write after a hang-up.
func TestTTYFileAlternative(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer slave.Close()
	if err := slave.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline on a tty file: %v", err)
	}
	if _, err := slave.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if err := slave.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := master.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := slave.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after hang-up = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := slave.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("Write after hang-up: %v, want EIO", err)
	}

	// Close wakes a blocked Read (whichever runs first) with os.ErrClosed.
	master2, slave2, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master2.Close()
	done := make(chan error, 1)
	go func() {
		_, err := slave2.Read(make([]byte, 1))
		done <- err
	}()
	if err := slave2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read woken by Close: %v, want os.ErrClosed", err)
	}
}
