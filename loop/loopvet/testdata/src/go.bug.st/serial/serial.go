// Package serial is a stub of go.bug.st/serial.
package serial

type Mode struct{ BaudRate int }

type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Drain() error
	Close() error
}

func Open(name string, mode *Mode) (Port, error) { return nil, nil }
