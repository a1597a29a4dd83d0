package atmodem_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/creack/pty"
	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
)

// A modem on a serial stream: the stream's Run and the modem's Run are
// tasks; Command is an await. A pseudo-terminal stands in for the modem's
// /dev/ttyUSB2, its master answering like a GSM module.
func Example() {
	master, slave, err := pty.Open()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer master.Close()
	path := slave.Name()
	slave.Close()

	l := loop.New()
	s, err := uart.New(path, uart.WithBaud(115200), uart.WithLineEnding(uart.AnyEOL))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := atmodem.New(l, s, atmodem.WithRequireFinal())
	if err != nil {
		fmt.Println(err)
		return
	}
	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("uart", s.Run)
		g.Go("modem", m.Run)
		defer g.Cancel()
		if _, err := s.WaitState(t, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		emulate(master, "", map[string]string{
			"AT+CSQ":   "\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
			"AT+CPIN?": "\r\n+CMTI: \"SM\",3\r\n+CME ERROR: 10\r\n",
		})

		rep, err := m.Command(t, "AT+CSQ")
		fmt.Println(strings.Join(rep.Lines, "; "), rep.Final, err)

		_, err = m.Command(t, "AT+CPIN?")
		fmt.Println(err)

		urc, err := m.URCs().Get(t) // a new SMS, announced mid-command
		fmt.Println("unsolicited:", urc, err)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// +CSQ: 21,99 OK <nil>
	// atmodem: AT+CPIN?: +CME ERROR: 10
	// unsolicited: +CMTI: "SM",3 <nil>
}
