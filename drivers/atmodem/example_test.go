package atmodem_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
)

// A GSM modem on a serial stream: the stream's Run and the modem's Run are
// tasks; Command is an await. On hardware the stream opens
// /dev/ttyUSB2; here a scripted peer (package uarttest) answers like a
// modem with echo on, on a virtual clock: signal quality, an error, an
// SMS sent through the "> " prompt, and an SMS received — a URC of two
// lines that arrives in the middle of a command.
func Example() {
	gsm := uarttest.NewPeer()
	gsm.Echo = true
	gsm.On("AT+CSQ", uarttest.Lines("", "+CSQ: 21,99", "", "OK")...)
	gsm.On("AT+CPIN?", uarttest.Lines("", "+CME ERROR: 10")...)
	gsm.OnPrefix("AT+CMGS=", uarttest.Prompt("\r\n> "),
		uarttest.After(2*time.Second, ""), uarttest.Line("+CMGS: 12"), uarttest.Line(""), uarttest.Line("OK"))
	gsm.On("AT+COPS?", uarttest.Line(`+CMT: "+441234",,"24/05/01,12:00:00+04"`), uarttest.Line("OK, see you"),
		uarttest.Line(`+COPS: 0,0,"Operator"`), uarttest.Line("OK"))

	s, err := uart.New("/dev/ttyUSB2", uart.WithOpener(gsm.Opener()), uart.WithLineEnding(uart.AnyEOL))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := atmodem.New(s, atmodem.WithRequireFinal())
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("uart", s.Run)
		g.Go("modem", m.Run)
		defer g.Cancel()
		if _, err := s.WaitState(t, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}

		rep, err := m.Command(t, "AT+CSQ")
		fmt.Println(strings.Join(rep.Lines, "; "), rep.Final, err)

		_, err = m.Command(t, "AT+CPIN?")
		fmt.Println(err)

		rep, err = m.Command(t, `AT+CMGS="+441234"`, atmodem.Body("Running late"))
		fmt.Println(rep.Lines, rep.Final, err, gsm.Bodies())

		rep, err = m.Command(t, "AT+COPS?")
		fmt.Println(rep.Lines, rep.Final, err)
		sms, err := m.Events().Get(t) // the SMS that came mid-command
		fmt.Printf("unsolicited: %q %v\n", sms.Lines, err)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// +CSQ: 21,99 OK <nil>
	// atmodem: AT+CPIN?: +CME ERROR: 10
	// [+CMGS: 12] OK <nil> [Running late]
	// [+COPS: 0,0,"Operator"] OK <nil>
	// unsolicited: ["+CMT: \"+441234\",,\"24/05/01,12:00:00+04\"" "OK, see you"] <nil>
}
