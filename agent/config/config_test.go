package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/agent/filter"
	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/uart"
)

const (
	examplePath = "../../packaging/examples/config.yaml"
	defaultPath = "../../packaging/config.yaml"
)

func mustParse(t *testing.T, src string, opts ...Option) *Config {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src), append([]Option{WithHostname("testhost")}, opts...)...)
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	return cfg
}

func parseErr(t *testing.T, src string, opts ...Option) string {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src), append([]Option{WithHostname("testhost")}, opts...)...)
	if err == nil {
		t.Fatalf("parsed without an error: %s", cfg.Summary())
	}
	return err.Error()
}

func TestExampleParsesAndCoversEveryDeviceType(t *testing.T) {
	cfg, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	types := map[Type]bool{}
	for _, d := range cfg.Devices {
		types[d.Type] = true
	}
	for _, typ := range Types() {
		if !types[typ] {
			t.Errorf("the example has no %s device", typ)
		}
	}
	// The example shows the delivery of events and the inheritance of
	// per-value publish settings; check they came out as documented there.
	climate, _ := cfg.Device("climate")
	temp, _ := climate.Value("temperature")
	hum, _ := climate.Value("humidity")
	if temp.Publish.Filter.Heartbeat != 10*time.Minute || temp.Publish.Filter.Median != 3 || *temp.Publish.Filter.Round != 1 ||
		hum.Publish.Filter.Throttle != time.Minute || *hum.Publish.Filter.Delta != 1 {
		t.Errorf("climate publish settings: %+v / %+v", temp.Publish.Filter, hum.Publish.Filter)
	}
	if temp.Entity != "climate_temperature" || temp.DisplayName != "Climate temperature" || temp.Precision != 1 {
		t.Errorf("climate temperature: %+v", temp)
	}
	// The same file loads on a board that has its pins, with one failure
	// fewer reasons to differ: the check covers only the real devices, and
	// every device here is simulated.
	onBoard, err := Load(examplePath, WithBoard(testBoard()))
	if err != nil {
		t.Fatal(err)
	}
	if !onBoard.HardwareChecked() || onBoard.Board != "Test Pi" {
		t.Errorf("board: %q", onBoard.Board)
	}
}

func TestDefaultConffile(t *testing.T) {
	cfg, err := Load(defaultPath, WithHostname("raspberrypi"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Devices) != 1 || cfg.Devices[0].Type != TypeSystem {
		t.Fatalf("the default config should have only the system device active, has %d devices", len(cfg.Devices))
	}
	if !slices.Equal(cfg.MQTT.Brokers, []string{"tcp://localhost:1883"}) || cfg.MQTT.NodeID != "raspberrypi" {
		t.Errorf("mqtt: %+v", cfg.MQTT)
	}
	// Every other type is there, commented out, and valid once uncommented.
	data, err := os.ReadFile(defaultPath)
	if err != nil {
		t.Fatal(err)
	}
	uncommented := uncommentDevices(string(data))
	all, err := Parse("uncommented.yaml", []byte(uncommented), WithHostname("raspberrypi"))
	if err != nil {
		t.Fatalf("the commented-out devices do not parse once uncommented:\n%v\n%s", err, uncommented)
	}
	types := map[Type]bool{}
	for _, d := range all.Devices {
		types[d.Type] = true
	}
	for _, typ := range Types() {
		if !types[typ] {
			t.Errorf("the default config has no commented-out %s device", typ)
		}
	}
}

// uncommentDevices removes the comment marks of the device entries of the
// default config ("  # - name" and "  #   key" lines), not of the prose.
func uncommentDevices(src string) string {
	lines := strings.Split(src, "\n")
	inDevices := false
	for i, l := range lines {
		if strings.HasPrefix(l, "devices:") {
			inDevices = true
		}
		if inDevices && (strings.HasPrefix(l, "  # - ") || strings.HasPrefix(l, "  #   ")) {
			lines[i] = "  " + l[4:]
		}
	}
	return strings.Join(lines, "\n")
}

func TestTopLevelDefaults(t *testing.T) {
	cfg := mustParse(t, "devices: []\n", WithHostname("Porch-Pi.local"))
	want := &Config{
		File: "test.yaml",
		MQTT: MQTT{
			Brokers: []string{"tcp://localhost:1883"}, NodeID: "porch-pi", BaseTopic: "edgeagent", ClientID: "porch-pi",
			KeepAlive: 30 * time.Second, ConnectTimeout: 10 * time.Second,
			Backoff:        Backoff{Min: 500 * time.Millisecond, Max: 4 * time.Second},
			ReturnInterval: time.Minute, StatusInterval: time.Minute,
		},
		HomeAssistant:   HomeAssistant{Enabled: true, DiscoveryPrefix: "homeassistant", BirthTopic: "homeassistant/status", DeviceName: "porch-pi"},
		StateDir:        "/var/lib/edgeagent",
		Log:             Log{Level: slog.LevelInfo, Format: LogText},
		ShutdownTimeout: 10 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if cfg.HardwareChecked() {
		t.Error("HardwareChecked without a board")
	}
}

// The debug section is off unless set, and as strict as the rest: a
// misspelt switch or a value that is not a boolean is an error with its
// place, never silently off.
func TestDebugSection(t *testing.T) {
	if mustParse(t, "devices: []\n").Debug.AllowHang {
		t.Error("debug.allow_hang is on by default")
	}
	if mustParse(t, "debug: {allow_hang: false}\ndevices: []\n").Debug.AllowHang {
		t.Error("debug.allow_hang: false turned it on")
	}
	for src, want := range map[string]string{
		"debug:\n  allow_hangs: true\ndevices: []\n": `test.yaml:2:3: debug.allow_hangs: unknown key (did you mean "allow_hang"?)`,
		"debug:\n  allow_hang: yes\ndevices: []\n":   "test.yaml:2:15: debug.allow_hang: expected true or false",
		"debug: true\ndevices: []\n":                 "test.yaml:1:8: debug: expected a mapping",
	} {
		if got := parseErr(t, src); !strings.Contains(got, want) {
			t.Errorf("%q:\n got %s\nwant %s…", src, got, want)
		}
	}
}

func TestNodeIDFromHostName(t *testing.T) {
	for host, want := range map[string]string{
		"raspberrypi": "raspberrypi", "Kitchen Pi": "kitchen_pi", "porch.example.org": "porch", "": DefaultNodeID, "___": DefaultNodeID,
		"ünïcode": "n_code", strings.Repeat("a", 100): strings.Repeat("a", 64),
	} {
		cfg := mustParse(t, "devices: []\n", WithHostname(host))
		if cfg.MQTT.NodeID != want {
			t.Errorf("host %q: node id %q, want %q", host, cfg.MQTT.NodeID, want)
		}
		if msg := checkID(cfg.MQTT.NodeID); msg != "" {
			t.Errorf("host %q gives the invalid node id %q: %s", host, cfg.MQTT.NodeID, msg)
		}
	}
	// Without WithHostname the real host name is used, and is valid.
	cfg, err := Parse("test.yaml", []byte("devices: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if msg := checkID(cfg.MQTT.NodeID); msg != "" {
		t.Errorf("node id %q from this host: %s", cfg.MQTT.NodeID, msg)
	}
}

func TestDeviceDefaults(t *testing.T) {
	cfg := mustParse(t, `
devices:
  - {name: b, type: pushbutton, pin: GPIO1}
  - {name: s, type: switch, pin: GPIO2}
  - {name: c, type: contact, pin: GPIO3}
  - {name: l, type: led, pin: GPIO4}
  - {name: o, type: output, pin: GPIO5}
  - {name: r, type: relay, pin: GPIO6}
  - {name: h, type: htu21d}
  - {name: a, type: adxl345}
  - {name: u, type: uart_lines, port: /dev/ttyUSB0}
  - {name: m, type: at_modem, port: /dev/ttyUSB1}
  - {name: n, type: nec_ir, pin: GPIO7}
  - {name: y, type: system}
`)
	input := func(pin string) Input {
		return Input{Pin: pin, Pull: gpio.PullUp, ActiveLow: true, Debounce: 50 * time.Millisecond, Mode: gpioin.Auto, PollPeriod: 10 * time.Millisecond}
	}
	rate, _ := adxl345.RateFor(12.5)
	want := []Spec{
		&Pushbutton{Input: input("GPIO1"), DoubleClick: 400 * time.Millisecond, LongPress: time.Second, DeviceClass: "button"},
		&Contact{Input: input("GPIO2")},
		&Contact{Input: input("GPIO3"), Invert: true, DeviceClass: "opening"},
		&LED{Pin: "GPIO4", Blink: &BlinkEffect{On: 250 * time.Millisecond, Off: 250 * time.Millisecond}, Heartbeat: &HeartbeatEffect{Period: time.Second}},
		&Output{Pin: "GPIO5"},
		&Output{Pin: "GPIO6"},
		&HTU21D{I2C: I2C{Bus: "1", Address: 0x40}, Interval: 10 * time.Second, Resolution: htu21d.RH12T14},
		&ADXL345{I2C: I2C{Bus: "1", Address: 0x53}, Range: adxl345.Range2G, Rate: rate, Interval: time.Second,
			MotionThreshold: 0.05, MotionMode: adxl345.Distance, MotionHold: 5 * time.Second, Smoothing: 0.25, MotionDeviceClass: "moving"},
		&UARTLines{Serial: Serial{Port: "/dev/ttyUSB0", Baud: 9600, Framing: "8N1", DataBits: 8}, LineEnding: uart.LF, MaxLine: 4096,
			As: LinesSensor, CommandEnding: uart.LF},
		&ATModem{Serial: Serial{Port: "/dev/ttyUSB1", Baud: 115200, Framing: "8N1", DataBits: 8}, CommandTimeout: 10 * time.Second,
			Quiet: 4 * time.Second, SignalInterval: time.Minute},
		&NECIR{Pin: "GPIO7", Repeat: RepeatIgnore, RepeatDelay: 500 * time.Millisecond, ReportUnknown: true, DeviceClass: "button"},
		&System{Interval: time.Minute, ThermalZone: "/sys/class/thermal/thermal_zone0", Values: SystemValues()},
	}
	for i, d := range cfg.Devices {
		if !reflect.DeepEqual(d.Spec, want[i]) {
			t.Errorf("%s (%s) defaults:\n got %+v\nwant %+v", d.Name, d.Type, d.Spec, want[i])
		}
		if d.Spec.Simulated() {
			t.Errorf("%s is simulated without a simulate key", d.Name)
		}
		for _, v := range d.Values {
			wantPub := Publish{QoS: 1, Retain: true, Delivery: DeliveryLatest}
			if v.Kind == Event {
				wantPub = Publish{QoS: 1, Delivery: DeliveryMaxAge, MaxAge: time.Minute}
			}
			if !reflect.DeepEqual(v.Publish, wantPub) {
				t.Errorf("%s publish defaults: %+v, want %+v", v.Entity, v.Publish, wantPub)
			}
		}
	}
	// What each device publishes, and how Home Assistant sees it.
	var got []string
	for _, d := range cfg.Devices {
		for _, v := range d.Values {
			got = append(got, strings.Join([]string{v.Entity, v.Kind.String(), v.Platform, v.DeviceClass, v.Unit, strings.Join(v.EventTypes, "/")}, " "))
		}
	}
	wantValues := []string{
		"b event event button  single/double/long",
		"s binary binary_sensor   ",
		"c binary binary_sensor opening  ",
		"l light light   ",
		"o binary switch   ",
		"r binary switch   ",
		"h_temperature numeric sensor temperature °C ",
		"h_humidity numeric sensor humidity % ",
		"a_x numeric sensor  g ",
		"a_y numeric sensor  g ",
		"a_z numeric sensor  g ",
		"a_motion binary binary_sensor moving  ",
		"u text sensor   ",
		"m_signal numeric sensor signal_strength dBm ",
		"n event event button  unknown",
		"y_cpu_temperature numeric sensor temperature °C ",
		"y_load numeric sensor   ",
		"y_uptime numeric sensor duration s ",
		"y_memory numeric sensor data_size MB ",
		"y_outbox numeric sensor  messages ",
		"y_device_errors numeric sensor  devices ",
	}
	if !slices.Equal(got, wantValues) {
		t.Errorf("values:\n got %q\nwant %q", got, wantValues)
	}
}

func TestSimulationDefaults(t *testing.T) {
	cfg := mustParse(t, `
devices:
  - {name: b, type: pushbutton, pin: GPIO1, simulate: true}
  - {name: c, type: contact, pin: GPIO3, simulate: true}
  - {name: l, type: led, pin: GPIO4, simulate: true}
  - {name: r, type: relay, pin: GPIO6, simulate: {}}
  - {name: h, type: htu21d, simulate: true}
  - {name: a, type: adxl345, simulate: true}
  - {name: u, type: uart_lines, port: /dev/ttyUSB0, simulate: {lines: [a]}}
  - {name: m, type: at_modem, port: /dev/ttyUSB1, simulate: true}
  - {name: n, type: nec_ir, pin: GPIO7, keys: {one: 0x0001, two: 0x0002}, simulate: true}
  - {name: y, type: system, simulate: true}
  - {name: off, type: relay, pin: GPIO8, simulate: false}
`)
	got := map[string]any{}
	for _, d := range cfg.Devices {
		v := reflect.ValueOf(d.Spec).Elem().FieldByName("Simulate")
		if v.IsNil() {
			got[d.Name] = nil
			continue
		}
		got[d.Name] = v.Elem().Interface()
	}
	want := map[string]any{
		"b":   PushbuttonSim{Gestures: []Gesture{GestureSingle, GestureDouble, GestureLong}, Every: 10 * time.Second},
		"c":   ContactSim{Every: 30 * time.Second},
		"l":   Simulation{},
		"r":   Simulation{},
		"h":   HTU21DSim{Temperature: [2]float64{19, 23}, Humidity: [2]float64{40, 55}},
		"a":   ADXL345Sim{Noise: 0.005, ShakeEvery: time.Minute},
		"u":   UARTLinesSim{Lines: []string{"a"}, Every: 10 * time.Second},
		"m":   ATModemSim{CSQ: [2]int{12, 25}},
		"n":   NECIRSim{Sequence: []string{"one", "two"}, Every: 20 * time.Second},
		"y":   SystemSim{CPUTemperature: [2]float64{45, 60}},
		"off": nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("simulation defaults:\n got %+v\nwant %+v", got, want)
	}
	if s := cfg.Summary(); !strings.Contains(s, "11 devices (10 simulated)") {
		t.Errorf("summary: %s", s)
	}
}

// TestEveryKey parses a configuration that sets every key, and checks each
// reached the Config.
func TestEveryKey(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"mqtt.pw", "ca.pem", "porch.crt", "porch.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := everyKey
	cfg, err := Parse(filepath.Join(dir, "config.yaml"), []byte(src), WithHostname("h"))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.MQTT
	wantMQTT := MQTT{
		Brokers: []string{"mqtts://broker.lan", "tcp://backup.lan:1884"}, NodeID: "porch", BaseTopic: "home/agents", ClientID: "porch-agent",
		KeepAlive: time.Minute, ConnectTimeout: 5 * time.Second, Backoff: Backoff{Min: time.Second, Max: 30 * time.Second},
		ReturnInterval: 2 * time.Minute, CleanSession: true, Username: "porch", PasswordFile: filepath.Join(dir, "mqtt.pw"),
		TLS: &TLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "porch.crt"), KeyFile: filepath.Join(dir, "porch.key"),
			ServerName: "broker", InsecureSkipVerify: true},
		StatusInterval: 0,
	}
	if !reflect.DeepEqual(m, wantMQTT) {
		t.Errorf("mqtt:\n got %+v\nwant %+v", m, wantMQTT)
	}
	if *m.TLS != *wantMQTT.TLS {
		t.Errorf("tls: %+v", *m.TLS)
	}
	wantHA := HomeAssistant{Enabled: false, DiscoveryPrefix: "ha", BirthTopic: "ha/status", DeviceName: "Porch", Area: "Front"}
	if cfg.HomeAssistant != wantHA || cfg.StateDir != filepath.Join(dir, "state") ||
		cfg.Log != (Log{Level: slog.LevelDebug, Format: LogJSON}) || cfg.ShutdownTimeout != 3*time.Second {
		t.Errorf("top level: %+v %q %+v %v", cfg.HomeAssistant, cfg.StateDir, cfg.Log, cfg.ShutdownTimeout)
	}
	if !cfg.Debug.AllowHang {
		t.Error("debug.allow_hang: true was not read")
	}
	b, _ := cfg.Device("button")
	if b.DisplayName != "Front button" || b.Icon != "mdi:gesture-tap-button" {
		t.Errorf("button: %+v", b)
	}
	wantButton := &Pushbutton{
		Input:       Input{Pin: "GPIO17", Pull: gpio.Float, ActiveLow: false, Debounce: 20 * time.Millisecond, Mode: gpioin.Polling, PollPeriod: 5 * time.Millisecond},
		DoubleClick: 0, LongPress: 2 * time.Second, DeviceClass: "doorbell",
		Simulate: &PushbuttonSim{Gestures: []Gesture{GestureLong, GestureSingle}, Every: 5 * time.Second},
	}
	if !reflect.DeepEqual(b.Spec, wantButton) {
		t.Errorf("button:\n got %+v\nwant %+v", b.Spec, wantButton)
	}
	bv, _ := b.Value("")
	if !slices.Equal(bv.EventTypes, []string{"single", "long"}) || bv.Publish != (Publish{QoS: 2, Delivery: DeliveryAll}) {
		t.Errorf("button value: %+v", bv)
	}
	led, _ := cfg.Device("led")
	wantLED := &LED{Pin: "P1_12", ActiveLow: true, PWM: true, PWMFrequency: 2 * physic.KiloHertz,
		Heartbeat: &HeartbeatEffect{Period: 2 * time.Second}, Simulate: &Simulation{}}
	if !reflect.DeepEqual(led.Spec, wantLED) || !slices.Equal(led.Spec.(*LED).Effects(), []string{"heartbeat"}) {
		t.Errorf("led:\n got %+v\nwant %+v", led.Spec, wantLED)
	}
	relay, _ := cfg.Device("relay")
	if !reflect.DeepEqual(relay.Spec, &Output{Pin: "GPIO23", ActiveLow: true, Initial: true, DeviceClass: "outlet"}) {
		t.Errorf("relay: %+v", relay.Spec)
	}
	tilt, _ := cfg.Device("tilt")
	rate, _ := adxl345.RateFor(100)
	wantTilt := &ADXL345{I2C: I2C{Bus: "2", Address: 0x1d}, Range: adxl345.Range16G, Rate: rate, Interval: 50 * time.Millisecond,
		MotionThreshold: 0.2, MotionMode: adxl345.Magnitude, MotionHold: 10 * time.Second, Smoothing: 1, MotionDeviceClass: "vibration",
		Simulate: &ADXL345Sim{Noise: 0.01, ShakeEvery: 0, FailEvery: 3}}
	if !reflect.DeepEqual(tilt.Spec, wantTilt) {
		t.Errorf("tilt:\n got %+v\nwant %+v", tilt.Spec, wantTilt)
	}
	climate, _ := cfg.Device("climate")
	wantClimate := &HTU21D{I2C: I2C{Bus: "1", Address: 0x40}, Interval: 30 * time.Second, Resolution: htu21d.RH11T11,
		Simulate: &HTU21DSim{Temperature: [2]float64{10, 12}, Humidity: [2]float64{20, 30}, FailEvery: 5}}
	if !reflect.DeepEqual(climate.Spec, wantClimate) {
		t.Errorf("climate:\n got %+v\nwant %+v", climate.Spec, wantClimate)
	}
	meter, _ := cfg.Device("meter")
	mt := meter.Spec.(*UARTLines)
	if mt.Match == nil || mt.Match.String() != `V=([0-9.]+)` {
		t.Errorf("meter match: %v", mt.Match)
	}
	mt.Match = nil
	wantMeter := &UARTLines{Serial: Serial{Port: "/dev/ttyAMA0", Baud: 57600, Framing: "7E2", DataBits: 7, Parity: uart.EvenParity, StopBits: uart.TwoStopBits},
		LineEnding: uart.AnyEOL, MaxLine: 128, As: LinesSensor, MatchText: `V=([0-9.]+)`, Numeric: true, Unit: "V", DeviceClass: "voltage",
		StateClass: "measurement", Command: true, CommandEnding: uart.CR,
		Simulate: &UARTLinesSim{Lines: []string{"V=12.1", "V=12.2"}, Every: time.Second}}
	if !reflect.DeepEqual(mt, wantMeter) {
		t.Errorf("meter:\n got %+v\nwant %+v", mt, wantMeter)
	}
	keypad, _ := cfg.Device("keypad")
	if kp := keypad.Spec.(*UARTLines); kp.As != LinesEvent || !slices.Equal(kp.EventTypes, []string{"open", "close"}) ||
		kp.DeviceClass != "button" || kp.Simulate.PTY != "/tmp/keypad" {
		t.Errorf("keypad: %+v", kp)
	}
	modem, _ := cfg.Device("modem")
	wantModem := &ATModem{Serial: Serial{Port: "/dev/ttyUSB2", Baud: 9600, Framing: "8N1", DataBits: 8}, CommandTimeout: 20 * time.Second,
		Quiet: 2 * time.Second, SignalInterval: 0, RequireFinal: true, URCPrefixes: []string{"RING"},
		Simulate: &ATModemSim{CSQ: [2]int{5, 6}, Replies: map[string][]string{"ATI": {"Quectel"}, "AT+CGMR": {"EC25", "rev 1"}}}}
	if !reflect.DeepEqual(modem.Spec, wantModem) || len(modem.Values) != 0 {
		t.Errorf("modem:\n got %+v\nwant %+v", modem.Spec, wantModem)
	}
	remote, _ := cfg.Device("remote")
	wantRemote := &NECIR{Pin: "GPIO25", Extended: true, Keys: []NECKey{{"power", 0x1234, 0x08}, {"mute", 0xabcd, 0x01}},
		Repeat: RepeatRepeat, RepeatDelay: time.Second, ReportUnknown: false, DeviceClass: "button",
		Simulate: &NECIRSim{Sequence: []string{"mute"}, Every: time.Minute}}
	if !reflect.DeepEqual(remote.Spec, wantRemote) {
		t.Errorf("remote:\n got %+v\nwant %+v", remote.Spec, wantRemote)
	}
	if k, ok := remote.Spec.(*NECIR).Key(0xabcd, 0x01); !ok || k != "mute" {
		t.Errorf("Key: %q %v", k, ok)
	}
	host, _ := cfg.Device("host")
	if !reflect.DeepEqual(host.Spec, &System{Interval: 5 * time.Second, ThermalZone: "/sys/class/thermal/thermal_zone1",
		Values: []string{"load", "uptime"}, Simulate: &SystemSim{CPUTemperature: [2]float64{30, 40}}}) {
		t.Errorf("host: %+v", host.Spec)
	}
	door, _ := cfg.Device("door")
	if !reflect.DeepEqual(door.Spec, &Contact{Input: Input{Pin: "GPIO27", Pull: gpio.PullUp, ActiveLow: true, Debounce: 50 * time.Millisecond,
		Mode: gpioin.Edges, PollPeriod: 10 * time.Millisecond}, Invert: false, DeviceClass: "window", Simulate: &ContactSim{Every: time.Minute}}) {
		t.Errorf("door: %+v", door.Spec)
	}
	dv, _ := door.Value("")
	if dv.Publish != (Publish{QoS: 1, Retain: false, Delivery: DeliveryMaxAge, MaxAge: time.Hour, Filter: dv.Publish.Filter}) ||
		dv.Publish.Filter.Heartbeat != time.Hour || dv.Publish.Filter.Throttle != time.Second || *dv.Publish.Filter.Delta != 0 {
		t.Errorf("door publish: %+v", dv.Publish)
	}
}

const everyKey = `
mqtt:
  brokers: [mqtts://broker.lan, tcp://backup.lan:1884]
  node_id: porch
  base_topic: home/agents
  client_id: porch-agent
  keepalive: 1m
  connect_timeout: 5s
  backoff: {min: 1s, max: 30s}
  return_interval: 2m
  clean_session: true
  username: porch
  password_file: mqtt.pw
  tls:
    ca_file: ca.pem
    cert_file: porch.crt
    key_file: porch.key
    server_name: broker
    insecure_skip_verify: true
  status_interval: 0s
homeassistant: {enabled: false, discovery_prefix: ha, birth_topic: ha/status, device_name: Porch, area: Front}
state_dir: state
log: {level: debug, format: json}
shutdown_timeout: 3s
debug: {allow_hang: true}
devices:
  - name: button
    type: pushbutton
    display_name: Front button
    icon: mdi:gesture-tap-button
    pin: gpio_17
    active_low: false
    pull: none
    debounce: 20ms
    input: polling
    poll_period: 5ms
    double_click: 0s
    long_press: 2s
    device_class: doorbell
    publish: {qos: 2, delivery: all}
    simulate: {gestures: [long, single], every: 5s}
  - name: door
    type: contact
    pin: GPIO27
    invert: false
    input: edges
    device_class: window
    publish: {heartbeat: 1h, throttle: 1s, delta: 0, retain: false, max_age: 1h}
    simulate: {every: 1m}
  - name: led
    type: led
    pin: p1_12
    active_low: true
    pwm: true
    pwm_frequency: 2000
    effects: {heartbeat: {period: 2s}}
    simulate: true
  - name: relay
    type: relay
    pin: GPIO23
    active_low: true
    initial: on
    device_class: outlet
  - name: climate
    type: htu21d
    bus: I2C1
    address: 0x40
    interval: 30s
    resolution: rh11_t11
    publish: {temperature: {round: 1}, humidity: {round: 0}}
    simulate: {temperature: [10, 12], humidity: [20, 30], fail_every: 5}
  - name: tilt
    type: adxl345
    bus: 2
    address: 0x1d
    range: 16
    rate: 100
    interval: 50ms
    motion_threshold: 0.2
    motion_mode: magnitude
    motion_hold: 10s
    smoothing: 1
    motion_device_class: vibration
    simulate: {noise: 0.01, shake_every: 0s, fail_every: 3}
  - name: meter
    type: uart_lines
    port: /dev/ttyAMA0
    baud: 57600
    framing: 7E2
    line_ending: any
    max_line: 128
    as: sensor
    match: 'V=([0-9.]+)'
    numeric: true
    unit: V
    device_class: voltage
    state_class: measurement
    command: true
    command_ending: cr
    simulate: {lines: [V=12.1, V=12.2], every: 1s}
  - name: keypad
    type: uart_lines
    port: /dev/ttyAMA1
    as: event
    event_types: [open, close]
    device_class: button
    simulate: {pty: /tmp/keypad}
  - name: modem
    type: at_modem
    port: /dev/ttyUSB2
    baud: 9600
    framing: 8N1
    command_timeout: 20s
    quiet: 2s
    signal_interval: 0s
    require_final: true
    urc_prefixes: [RING]
    simulate: {csq: [5, 6], replies: {ATI: Quectel, AT+CGMR: [EC25, rev 1]}}
  - name: remote
    type: nec_ir
    pin: GPIO25
    extended: true
    keys: {power: {address: 0x1234, command: 0x08}, mute: 0xabcd01}
    repeat: repeat
    repeat_delay: 1s
    report_unknown: false
    device_class: button
    simulate: {sequence: [mute], every: 1m}
  - name: host
    type: system
    interval: 5s
    thermal_zone: /sys/class/thermal/thermal_zone1
    values: [uptime, load]
    simulate: {cpu_temperature: [30, 40]}
`

func TestPublishInheritance(t *testing.T) {
	cfg := mustParse(t, `
devices:
  - name: climate
    type: htu21d
    publish:
      average: 4
      heartbeat: 10m
      qos: 0
      temperature: {median: 3, round: 1}
      humidity: {heartbeat: 0s, qos: 2, delivery: max_age}
  - name: tilt
    type: adxl345
    publish:
      round: 2
      delta: 0.01
      throttle: 1s
      motion: {throttle: 0s}
`)
	c, _ := cfg.Device("climate")
	temp, _ := c.Value("temperature")
	hum, _ := c.Value("humidity")
	// The value's median replaces the device's average; the rest is inherited.
	if f := temp.Publish.Filter; f.Average != 0 || f.Median != 3 || *f.Round != 1 || f.Heartbeat != 10*time.Minute || temp.Publish.QoS != 0 {
		t.Errorf("temperature: %+v", temp.Publish)
	}
	if temp.Precision != 1 {
		t.Errorf("temperature precision %d, want the rounding's 1", temp.Precision)
	}
	if f := hum.Publish.Filter; f.Average != 4 || f.Heartbeat != 0 || hum.Publish != (Publish{Filter: f, QoS: 2, Retain: true, Delivery: DeliveryMaxAge, MaxAge: time.Minute}) {
		t.Errorf("humidity: %+v", hum.Publish)
	}
	// Number-only settings of the device skip its binary value.
	tilt, _ := cfg.Device("tilt")
	x, _ := tilt.Value("x")
	motion, _ := tilt.Value("motion")
	if f := x.Publish.Filter; *f.Round != 2 || *f.Delta != 0.01 || f.Throttle != time.Second {
		t.Errorf("x: %+v", f)
	}
	if f := motion.Publish.Filter; f.Round != nil || f.Delta != nil || f.Throttle != 0 {
		t.Errorf("motion: %+v", f)
	}
	// The settings are independent copies.
	*x.Publish.Filter.Round = 5
	if y, _ := tilt.Value("y"); *y.Publish.Filter.Round != 2 {
		t.Error("values share their rounding")
	}
	// And they make working filter chains.
	for _, d := range cfg.Devices {
		for _, v := range d.Values {
			var err error
			if v.Kind == Numeric {
				_, err = filter.New[float64](v.Publish.Filter)
			} else {
				_, err = filter.New[bool](v.Publish.Filter)
			}
			if err != nil {
				t.Errorf("%s: %v", v.Entity, err)
			}
		}
	}
}

func TestErrorsAPI(t *testing.T) {
	_, err := Parse("config.yaml", []byte("mqtt:\n  keepalive: 10 sec\ndevices:\n  - {name: a, type: relay, pin: GPIO99}\n  - {name: a, type: relay, pin: GPIO1}\n"),
		WithBoard(testBoard()))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("errors.As Errors: %v", err)
	}
	var first *Error
	if !errors.As(err, &first) || first != errs[0] {
		t.Fatalf("errors.As *Error finds %v, want the first", first)
	}
	if want := (Error{File: "config.yaml", Line: 2, Col: 14, Path: "mqtt.keepalive"}); first.File != want.File ||
		first.Line != want.Line || first.Col != want.Col || first.Path != want.Path {
		t.Errorf("first: %#v", first)
	}
	wantLines := []string{
		`config.yaml:2:14: mqtt.keepalive: "10 sec" is not a duration`,
		`config.yaml:4:33: devices[0].pin: "GPIO99" is not a pin of this board (Test Pi has GPIO0, GPIO1 … GPIO27)`,
		`config.yaml:5:12: devices[1].name: "a" is also the name of devices[0] (4:12): names must be unique`,
	}
	lines := strings.Split(err.Error(), "\n")
	for i, w := range wantLines {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i, lines[i], w)
		}
	}
	if got := (&Error{File: "f.yaml", Msg: "m"}).Error(); got != "f.yaml: m" {
		t.Errorf("an error without a place: %q", got)
	}
	if got := (&Error{File: "f.yaml", Line: 1, Col: 2, Msg: "m"}).Error(); got != "f.yaml:1:2: m" {
		t.Errorf("an error without a path: %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("devices: []\n"+strings.Repeat("#", MaxFileSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	if _, err := Parse("bad.yaml", []byte("devices: []\n# \xff\n")); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("not UTF-8: %v", err)
	}
}

func TestBoardChecksOnlyRealDevices(t *testing.T) {
	src := `
devices:
  - {name: real, type: relay, pin: P1_11}
  - {name: sim, type: relay, pin: GPIO99, simulate: true}
  - {name: chip, type: htu21d, bus: 1}
`
	cfg := mustParse(t, src, WithBoard(testBoard()))
	if cfg.Board != "Test Pi" || !strings.Contains(cfg.Summary(), "pins and buses checked on Test Pi") {
		t.Errorf("summary: %s", cfg.Summary())
	}
	// The pin keeps the name written (normalised); the board's canonical
	// name is only used to find pins used twice.
	if d, _ := cfg.Device("real"); d.Spec.(*Output).Pin != "P1_11" {
		t.Errorf("pin: %+v", d.Spec)
	}
	off := mustParse(t, src)
	if off.HardwareChecked() || !strings.Contains(off.Summary(), "form checked only") {
		t.Errorf("summary off the board: %s", off.Summary())
	}
}

func TestPinAndBusForms(t *testing.T) {
	for in, want := range map[string]string{"GPIO17": "GPIO17", "gpio17": "GPIO17", "GPIO_04": "GPIO4", "P1_11": "P1_11", "pa7": "PA7", "XIO-P0": "XIO-P0"} {
		if got, err := normalizePin(in); err != nil || got != want {
			t.Errorf("pin %q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"17", "BCM17", "GPIO 17", "", "_x", strings.Repeat("A", 40), "GPIO17!"} {
		if got, err := normalizePin(in); err == nil {
			t.Errorf("pin %q accepted as %q", in, got)
		}
	}
	for in, want := range map[string]string{"1": "1", "01": "1", "I2C1": "1", "i2c-1": "1", "/dev/i2c-11": "11", "ftdi-i2c": "ftdi-i2c"} {
		if got, err := normalizeBus(in); err != nil || got != want {
			t.Errorf("bus %q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/dev/i2c", "1 2", "/dev/i2c-1234", "-1"} {
		if got, err := normalizeBus(in); err == nil {
			t.Errorf("bus %q accepted as %q", in, got)
		}
	}
}

func TestSuggestions(t *testing.T) {
	keys := []string{"brokers", "keepalive", "password_file", "password_env", "status_interval"}
	for in, want := range map[string]string{"brokr": "brokers", "broker": "brokers", "keep_alive": "keepalive", "KeepAlive": "keepalive",
		"password_fil": "password_file", "status": "status_interval", "xyz": "", "": ""} {
		if got := nearest(in, keys); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAliasesAndMerges shows anchors working across devices, and a
// document that expands without end refused cheaply.
func TestAliasesAndMerges(t *testing.T) {
	cfg := mustParse(t, `
x-button: &button {type: pushbutton, debounce: 10ms, publish: &pub {qos: 2}}
devices:
  - {<<: *button, name: a, pin: GPIO1}
  - {<<: *button, name: b, pin: GPIO2, debounce: 30ms}
  - {name: c, type: relay, pin: GPIO3, publish: *pub}
`)
	a, _ := cfg.Device("a")
	b, _ := cfg.Device("b")
	c, _ := cfg.Device("c")
	if a.Spec.(*Pushbutton).Debounce != 10*time.Millisecond || b.Spec.(*Pushbutton).Debounce != 30*time.Millisecond ||
		a.Values[0].Publish.QoS != 2 || c.Values[0].Publish.QoS != 2 {
		t.Errorf("merged: %+v %+v %+v", a.Spec, b.Spec, c.Values[0].Publish)
	}
	// A list of a thousand aliases of a list of a thousand names.
	var sb strings.Builder
	sb.WriteString("x: &l [")
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("a")
	}
	sb.WriteString("]\ndevices:\n  - name: host\n    type: system\n    values: [")
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("*l")
	}
	sb.WriteString("]\n")
	msg := parseErr(t, sb.String())
	if n := strings.Count(msg, "\n") + 1; n > 1001 {
		t.Errorf("%d errors for one list", n)
	}
}

func TestDocumentationListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9_.]+)`").FindAllStringSubmatch(string(doc), -1) {
		for _, part := range strings.Split(m[1], ".") {
			documented[part] = true
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"mqtt.pw", "ca.pem", "porch.crt", "porch.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string]bool{}
	for _, src := range []string{everyKey, mustRead(t, examplePath)} {
		d := newDecoder("x.yaml")
		d.keys = keys
		body := parseDocument(d, []byte(src))
		d.collectAnchors(body)
		p := &parser{d: d, opts: options{hostnameSet: true, hostname: "h"}, dir: dir, cfg: &Config{File: "x.yaml"}}
		p.parse(d.object("", d.nodePos(body), d.resolve("", body)))
		if len(d.errs) > 0 {
			t.Fatal(d.errs)
		}
	}
	if len(keys) < 100 {
		t.Fatalf("only %d keys recorded", len(keys))
	}
	for k := range keys {
		if !documented[k] {
			t.Errorf("key %s is not in docs/configuration.md", k)
		}
	}
	for _, typ := range Types() {
		found := false
		for _, line := range strings.Split(string(doc), "\n") {
			found = found || strings.HasPrefix(line, "### ") && strings.Contains(line, "`"+string(typ)+"`")
		}
		if !found {
			t.Errorf("docs/configuration.md has no section heading naming `%s`", typ)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDisplayNames(t *testing.T) {
	cfg := mustParse(t, `
devices:
  - {name: door_contact, type: contact, pin: GPIO1}
  - {name: _, type: relay, pin: GPIO2}
  - {name: porch-light, type: relay, pin: GPIO3, display_name: Lamp}
  - {name: y, type: system, values: [cpu_temperature, load]}
`)
	var got []string
	for _, d := range cfg.Devices {
		for _, v := range d.Values {
			got = append(got, v.DisplayName)
		}
	}
	if want := []string{"Door contact", "_", "Lamp", "Y CPU temperature", "Y load"}; !slices.Equal(got, want) {
		t.Errorf("display names %q, want %q", got, want)
	}
}

func TestHomeAssistantListErrorsNameTheItem(t *testing.T) {
	msg := parseErr(t, "devices:\n  - {name: k, type: uart_lines, port: /dev/ttyS0, as: event, event_types: [a, b, a]}\n")
	if !strings.Contains(msg, `devices[0].event_types: Home Assistant would refuse this: event_types[2]: duplicate event type "a"`) {
		t.Errorf("got %s", msg)
	}
}
