package nec_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/nec"
)

// A receiver collects edge times for BlockWait after the first edge, then
// decodes them. Here the burst comes from Encode, as from a simulated remote.
func ExampleDecode() {
	edges, _ := nec.Encode(nec.Frame{Address: 0x04, Command: 0x08})
	f, err := nec.Decode(edges, false)
	fmt.Println(f, err)

	// A burst whose leader mark is too short: noise, or another protocol.
	_, err = nec.Decode([]time.Duration{0, 3100 * time.Microsecond, 7600 * time.Microsecond}, false)
	fmt.Println(err)
	fmt.Println(errors.Is(err, nec.ErrBadStart))
	// Output:
	// address 0x04 command 0x08 <nil>
	// nec: bad start: leader mark 3.1ms, want ≈9ms (more than 4ms)
	// true
}

// A Decoder turns the repeat codes a held key sends into that key.
func ExampleDecoder() {
	var d nec.Decoder
	d.Extended = true // this remote uses 16-bit addresses

	press, _ := nec.Encode(nec.Frame{Address: 0x1234, Command: 0x42, Extended: true})
	held, _ := nec.Encode(nec.Frame{Repeat: true})
	for _, burst := range [][]time.Duration{press, held, held} {
		f, err := d.Decode(burst)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(f)
	}
	// Output:
	// address 0x1234 (extended) command 0x42
	// repeat of address 0x1234 (extended) command 0x42
	// repeat of address 0x1234 (extended) command 0x42
}

func ExampleEncode() {
	edges, _ := nec.Encode(nec.Frame{Repeat: true})
	fmt.Println(edges)
	// Output:
	// [0s 9ms 11.25ms 11.8125ms]
}
