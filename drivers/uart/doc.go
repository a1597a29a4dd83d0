// Package uart will hold the serial-stream driver: a line-oriented reader and
// writer over go.bug.st/serial, bridged onto the loop, and the seed's
// half-duplex command/response pattern (auart_hd.py: send a command, collect
// lines until a retriggered quiet timer expires).
//
// For now it holds only the feasibility spike (pty_spike_test.go), which runs
// go.bug.st/serial against pseudo-terminals and records how a port behaves
// when its peer vanishes; the driver's design follows from it. The package
// must not import bridge, and must not block the loop: every blocking Read
// and Write on a port belongs to a goroutine of its own.
package uart
