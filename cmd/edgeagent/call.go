package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge"
)

// callOptions are the flags of `edgeagent call`.
type callOptions struct {
	broker  string
	node    string
	base    string
	config  string
	timeout time.Duration
}

// defaultBroker is where sub and call look without --broker and without a
// configuration: the demo's broker.
const defaultBroker = "tcp://127.0.0.1:1883"

func newCallCommand() *cobra.Command {
	var o callOptions
	cmd := &cobra.Command{
		Use:   "call <method> [params]",
		Short: "Call a request method of a node and print the reply",
		Long: `Call sends a request to a node (<base>/<node>/req/<method>) and prints
the reply's result as indented JSON. An error reply is printed on standard
error and exits 1; no reply within --timeout exits 1 too.

params is JSON ('{"device": "porch_light"}', '"porch_light"', 42); anything
that is not JSON is sent as a JSON string, so 'call read porch_light' works.

The agent's methods: ping, status, read <device>, reload, at (a modem's AT
command: '{"command": "AT+CSQ"}').

The broker is --broker, else the first of the configuration's (--config, or
the default file when it exists), else the demo's (tcp://127.0.0.1:1883). The
node is --node, else the configuration's, else the only node whose
availability is "online" on the broker.`,
		Example: `  edgeagent call ping
  edgeagent call read porch_light
  edgeagent call at '{"command": "AT+CSQ"}' --node porch --broker tcp://pi.local:1883`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.fill(cmd.Flags().Changed("config")); err != nil {
				return err
			}
			var params json.RawMessage
			if len(args) == 2 {
				params = callParams(args[1])
			}
			return runCall(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0], params)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.broker, "broker", "", "the broker's URL (default: the configuration's, else "+defaultBroker+")")
	f.StringVar(&o.node, "node", "", "the node to call (default: the configuration's, else the only one online)")
	f.StringVar(&o.base, "base", "", "the nodes' base topic (default: the configuration's, else "+bridge.DefaultBase+")")
	f.StringVarP(&o.config, "config", "c", config.DefaultPath, "a configuration to take the broker, node and base from")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for the reply")
	return cmd
}

// fill completes the options from the configuration, when there is one.
func (o *callOptions) fill(explicit bool) error {
	// The configuration fills in what the flags leave out.
	missing := o.broker == "" || o.node == "" || o.base == ""
	if _, err := os.Stat(o.config); explicit || err == nil && missing {
		cfg, err := config.Load(o.config)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if o.broker == "" {
			o.broker = cfg.MQTT.Brokers[0]
		}
		if o.node == "" {
			o.node = cfg.MQTT.NodeID
		}
		if o.base == "" {
			o.base = cfg.MQTT.BaseTopic
		}
	}
	if o.broker == "" {
		o.broker = defaultBroker
	}
	if o.base == "" {
		o.base = bridge.DefaultBase
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

// callParams turns the params argument into JSON.
func callParams(arg string) json.RawMessage {
	if json.Valid([]byte(arg)) {
		return json.RawMessage(arg)
	}
	b, _ := json.Marshal(arg)
	return b
}

// reply is a node's reply.
type reply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func runCall(ctx context.Context, out, errOut io.Writer, o callOptions, method string, params json.RawMessage) error {
	if method == "" || strings.ContainsAny(method, "/+#") {
		return fmt.Errorf("method %q: a method is one topic level, without / + #", method)
	}
	clientID := "edgeagent-call-" + randomHex(4)
	replyTopic := o.base + "/_client/" + clientID + "/reply"
	id := randomHex(8)
	replies := make(chan reply, 16)
	var mu sync.Mutex
	online := map[string]bool{}
	opts := mqtt.NewClientOptions().AddBroker(o.broker).SetClientID(clientID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(o.timeout)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(o.timeout) || tok.Error() != nil {
		return fmt.Errorf("cannot connect to %s: %v", o.broker, tokenErr(tok))
	}
	defer c.Disconnect(100)

	if o.node == "" {
		// The nodes announce themselves on their retained availability.
		tok := c.Subscribe(o.base+"/+/availability", 1, func(_ mqtt.Client, m mqtt.Message) {
			levels := strings.Split(m.Topic(), "/")
			mu.Lock()
			online[levels[len(levels)-2]] = string(m.Payload()) == "online"
			mu.Unlock()
		})
		if !tok.WaitTimeout(o.timeout) || tok.Error() != nil {
			return fmt.Errorf("subscribe: %v", tokenErr(tok))
		}
		select { // retained messages follow the SUBACK at once
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		var nodes []string
		for n, up := range online {
			if up {
				nodes = append(nodes, n)
			}
		}
		mu.Unlock()
		slices.Sort(nodes)
		switch len(nodes) {
		case 0:
			return fmt.Errorf("no node is online under %s/ on %s: is the agent running? (name one with --node)", o.base, o.broker)
		case 1:
			o.node = nodes[0]
		default:
			return fmt.Errorf("%d nodes are online (%s): choose one with --node", len(nodes), strings.Join(nodes, ", "))
		}
	}

	tok := c.Subscribe(replyTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		var r reply
		if json.Unmarshal(m.Payload(), &r) == nil {
			select {
			case replies <- r:
			default:
			}
		}
	})
	if !tok.WaitTimeout(o.timeout) || tok.Error() != nil {
		return fmt.Errorf("subscribe %s: %v", replyTopic, tokenErr(tok))
	}
	req := map[string]any{"id": id, "reply_to": replyTopic}
	if params != nil {
		req["params"] = params
	}
	payload, _ := json.Marshal(req)
	topic := o.base + "/" + o.node + "/req/" + method
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(o.timeout) || tok.Error() != nil {
		return fmt.Errorf("publish %s: %v", topic, tokenErr(tok))
	}
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	want, _ := json.Marshal(id)
	for {
		select {
		case r := <-replies:
			if !bytes.Equal(r.ID, want) {
				continue
			}
			if r.Error != nil {
				fmt.Fprintf(errOut, "%s %s: error: %s\n", o.node, method, *r.Error)
				return exitError{1}
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, r.Result, "", "  "); err != nil {
				pretty.Reset()
				pretty.Write(r.Result)
			}
			fmt.Fprintln(out, pretty.String())
			return nil
		case <-timer.C:
			fmt.Fprintf(errOut, "%s %s: no reply within %v (is the node running? watch it with: edgeagent sub --node %s)\n",
				o.node, method, o.timeout, o.node)
			return exitError{1}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tokenErr says why a paho token did not complete.
func tokenErr(tok mqtt.Token) error {
	if err := tok.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}
