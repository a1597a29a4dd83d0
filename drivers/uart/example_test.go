package uart_test

import (
	"context"
	"fmt"
	"io"

	"github.com/creack/pty"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
)

// A pseudo-terminal stands in for /dev/ttyUSB0: its master is the device.
// The stream's Run task owns the port; ReadLine and Write are awaits.
func Example() {
	master, slave, err := pty.Open()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer master.Close()
	path := slave.Name() // /dev/pts/N, opened by path like any serial device
	slave.Close()

	l := loop.New()
	s, err := uart.New(path, uart.WithBaud(9600), uart.WithFormat("8N1"), uart.WithLineEnding(uart.AnyEOL))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("uart", s.Run)
		if _, err := s.WaitState(t, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		// The device sends two lines, the second in two pieces.
		go func() {
			master.Write([]byte("temp=21.5\r\nhum"))
			master.Write([]byte("=40\r\n"))
		}()
		for range 2 {
			line, err := s.ReadLine(t)
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", line)
		}
		if err := s.Write(t, []byte("RESET\r\n")); err != nil {
			return err
		}
		if err := s.Drain(t); err != nil { // written and on the wire
			return err
		}
		got := make([]byte, 7)
		n, err := loop.Offload(t, func(context.Context) (int, error) { return io.ReadFull(master, got) })
		fmt.Printf("device got %q %v\n", got[:n], err)
		g.Cancel() // stops Run, which closes the port
		return g.Wait(t)
	})
	fmt.Println("stream", s.State().Status, err)
	// Output:
	// temp=21.5
	// hum=40
	// device got "RESET\r\n" <nil>
	// stream closed <nil>
}
