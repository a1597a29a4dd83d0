package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/bridge/topic"
)

// subOptions are the flags of `edgeagent sub`.
type subOptions struct {
	broker     string
	config     string
	node       string
	base       string
	prefix     string // Home Assistant discovery prefix
	maxPayload int    // bytes of each payload shown; 0 shows all
}

func newSubCommand() *cobra.Command {
	o := subOptions{}
	cmd := &cobra.Command{
		Use:   "sub [filter]",
		Short: "Show a node's MQTT traffic live, one line per message",
		Long: `Sub subscribes to a node's topics and prints one line per message until
interrupted: the time it arrived, the topic, [retained] for a retained
message, and the payload — JSON on one line, text as it is (quoted when it
has line breaks or control characters), anything else as hex with its
length; payloads longer than --max-payload are cut and their size noted.

Without a filter it follows every node under --base and their Home Assistant
discovery configs, or one node with --node. A filter argument replaces
both.

The broker is --broker, else the first of the configuration's (--config, or
the default file when it exists), else the demo's (tcp://127.0.0.1:1883).`,
		Example: `  edgeagent sub                                  # every node, on the demo's broker
  edgeagent sub --node porch --broker tcp://pi.local:1883
  edgeagent sub 'edgeagent/+/status'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.fromConfig(cmd.Flags().Changed("config"), cmd.Flags().Changed("base"), cmd.Flags().Changed("discovery-prefix")); err != nil {
				return err
			}
			filters, err := o.filters(args)
			if err != nil {
				return err
			}
			return runSub(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, filters)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.broker, "broker", "", "the broker's URL (tcp://, ssl://, ws://; default: the configuration's, else "+defaultBroker+")")
	f.StringVarP(&o.config, "config", "c", config.DefaultPath, "a configuration to take the broker and base from")
	f.StringVar(&o.node, "node", "", "only this node (the topic level after the base); default: every node")
	f.StringVar(&o.base, "base", bridge.DefaultBase, "the nodes' base topic")
	f.StringVar(&o.prefix, "discovery-prefix", hass.DefaultPrefix, "Home Assistant's discovery prefix")
	f.IntVar(&o.maxPayload, "max-payload", 300, "show at most this many bytes of each payload (0: all)")
	return cmd
}

// fromConfig takes the broker, base and discovery prefix the flags left
// out from the configuration, when there is one.
func (o *subOptions) fromConfig(explicit, baseSet, prefixSet bool) error {
	if _, err := os.Stat(o.config); explicit || err == nil && o.broker == "" {
		cfg, err := config.Load(o.config)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if o.broker == "" {
			o.broker = cfg.MQTT.Brokers[0]
		}
		if !baseSet {
			o.base = cfg.MQTT.BaseTopic
		}
		if !prefixSet {
			o.prefix = cfg.HomeAssistant.DiscoveryPrefix
		}
	}
	if o.broker == "" {
		o.broker = defaultBroker
	}
	return nil
}

// filters returns what to subscribe to: the argument, or the node's (or
// every node's) topics and discovery config.
func (o subOptions) filters(args []string) ([]string, error) {
	if o.maxPayload < 0 {
		return nil, fmt.Errorf("--max-payload %d: must be 0 (all) or more", o.maxPayload)
	}
	if len(args) == 1 {
		if o.node != "" {
			return nil, errors.New("give either a filter or --node, not both")
		}
		if err := checkFilter(args[0]); err != nil {
			return nil, err
		}
		return args, nil
	}
	node := o.node
	if node == "" {
		// Any valid id checks the base and the prefix; the filters then
		// take a wildcard in its place.
		node = "x"
	}
	if _, err := topic.New(o.base, node); err != nil {
		return nil, fmt.Errorf("--base %q, --node %q: %w", o.base, o.node, err)
	}
	if _, err := hass.DeviceTopic(o.prefix, node); err != nil {
		return nil, fmt.Errorf("--discovery-prefix %q, --node %q: %w", o.prefix, o.node, err)
	}
	if o.node == "" {
		return []string{o.base + "/#", o.prefix + "/device/+/config"}, nil
	}
	return []string{o.base + "/" + o.node + "/#", o.prefix + "/device/" + o.node + "/config"}, nil
}

// checkFilter reports what is wrong with an MQTT topic filter, as a broker
// would refuse it: empty, a NUL, '#' other than as the whole last level, '+'
// other than as a whole level.
func checkFilter(f string) error {
	bad := func(why string) error { return fmt.Errorf("filter %q: %s", f, why) }
	if f == "" {
		return bad("empty")
	}
	if strings.ContainsRune(f, 0) || !utf8.ValidString(f) {
		return bad("not valid UTF-8 without NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#") && (l != "#" || i != len(levels)-1):
			return bad("'#' must be the whole last level")
		case strings.Contains(l, "+") && l != "+":
			return bad("'+' must be a whole level")
		}
	}
	return nil
}

// runSub connects, subscribes to filters (again after every reconnect)
// and prints each message to out until ctx is done, which is the normal
// end. Connection news goes to errOut.
func runSub(ctx context.Context, out, errOut io.Writer, o subOptions, filters []string) error {
	msgs := make(chan mqtt.Message, 256)
	subErr := make(chan error, 1)
	want := make(map[string]byte, len(filters))
	for _, f := range filters {
		want[f] = 0
	}
	opts := mqtt.NewClientOptions().
		AddBroker(o.broker).
		SetClientID(fmt.Sprintf("edgeagent-sub-%d-%08x", os.Getpid(), rand.Uint32())).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			fmt.Fprintf(errOut, "connection to %s lost (%v); reconnecting\n", o.broker, err)
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			// On paho's goroutine of its own; a clean session needs the
			// subscription again after every reconnect.
			tok := c.SubscribeMultiple(want, func(_ mqtt.Client, m mqtt.Message) {
				select {
				case msgs <- m:
				case <-ctx.Done():
				}
			})
			var err error
			if !tok.WaitTimeout(10 * time.Second) {
				err = errors.New("no answer from the broker")
			} else if err = tok.Error(); err == nil {
				if st, ok := tok.(*mqtt.SubscribeToken); ok {
					for f, code := range st.Result() {
						if code > 2 {
							err = errors.Join(err, fmt.Errorf("%s refused (code %#x)", f, code))
						}
					}
				}
			}
			if err != nil {
				err = fmt.Errorf("subscribe on %s: %w", o.broker, err)
			} else {
				fmt.Fprintf(errOut, "subscribed to %s on %s; Ctrl-C to stop\n", strings.Join(filters, ", "), o.broker)
			}
			select {
			case subErr <- err:
			default: // a failed resubscribe while an earlier result is unread
			}
		})
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect to %s: %w", o.broker, err)
	}
	defer c.Disconnect(250)
	for {
		select {
		case m := <-msgs:
			line := formatMessage(time.Now(), m.Topic(), m.Retained(), m.Payload(), o.maxPayload)
			if _, err := fmt.Fprintln(out, line); err != nil {
				return err
			}
		case err := <-subErr:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// formatMessage renders one message on one line: the time it arrived, the
// topic, "[retained]" for a retained message, and the payload as
// describePayload shows it.
func formatMessage(at time.Time, topic string, retained bool, payload []byte, maxPayload int) string {
	var b strings.Builder
	b.WriteString(at.Format("15:04:05.000"))
	b.WriteByte(' ')
	if isPlain(topic) && !strings.ContainsRune(topic, ' ') {
		b.WriteString(topic)
	} else {
		b.WriteString(strconv.Quote(topic))
	}
	if retained {
		b.WriteString(" [retained]")
	}
	b.WriteByte(' ')
	b.WriteString(describePayload(payload, maxPayload))
	return b.String()
}

// describePayload shows a payload readably on one line, and safely for a
// terminal (no control characters get through):
//
//   - "(empty)" for none (a retained one clears the topic);
//   - JSON compacted;
//   - UTF-8 text as it is, or Go-quoted if it has control characters;
//   - anything else (invalid UTF-8, NUL bytes) as "hex:" and its bytes.
//
// Beyond maxPayload bytes (0: no limit) the text is cut at a character
// boundary and the payload's size noted: "… (4096 bytes)". Binary
// payloads always note their size.
func describePayload(p []byte, maxPayload int) string {
	if len(p) == 0 {
		return "(empty)"
	}
	if !utf8.Valid(p) || bytes.IndexByte(p, 0) >= 0 {
		shown := p
		if maxPayload > 0 && len(shown) > maxPayload/2 {
			shown = shown[:maxPayload/2] // two hex digits a byte
		}
		s := "hex:" + hex.EncodeToString(shown)
		if len(shown) < len(p) {
			s += "…"
		}
		return s + fmt.Sprintf(" (%d bytes)", len(p))
	}
	var s string
	if json.Valid(p) {
		var buf bytes.Buffer
		_ = json.Compact(&buf, p) // cannot fail on valid JSON
		s = escapeControls(buf.String())
	} else if isPlain(string(p)) {
		s = string(p)
	} else {
		s = strconv.Quote(string(p))
	}
	if maxPayload > 0 && len(s) > maxPayload {
		cut := maxPayload
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("… (%d bytes)", len(p))
	}
	return s
}

// isPlain reports whether s is text a terminal shows as it is: no control
// characters (C0, DEL, C1), no line or paragraph separators.
func isPlain(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}

// escapeControls writes the control characters compacted JSON may still
// hold raw (DEL, C1 controls, the Unicode line separators) as JSON escapes,
// which keeps the JSON valid and the terminal safe.
func escapeControls(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
