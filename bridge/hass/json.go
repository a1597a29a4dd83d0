package hass

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// field is one key of an ordered JSON object.
type field struct {
	key string
	val any
}

// object is a JSON object whose keys are written in insertion order, so
// payloads are byte-stable without sorting keys into an unreadable order.
type object []field

func (o *object) add(key string, val any) { *o = append(*o, field{key, val}) }

// addString adds key only when s is not empty: optional strings are omitted,
// never sent as "" or null.
func (o *object) addString(key, s string) {
	if s != "" {
		o.add(key, s)
	}
}

// null is the JSON null value; only an entity name uses it (name: null means
// "use the device name").
type null struct{}

// encode writes v as compact JSON. It supports exactly the value types this
// package builds; anything else is a programming error reported as an error,
// never a panic.
func encode(buf *bytes.Buffer, v any) error {
	w := writer{out: buf}
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	return w.value(v)
}

// writer reuses one json.Encoder for every string of a payload.
type writer struct {
	out     *bytes.Buffer
	scratch bytes.Buffer
	enc     *json.Encoder
}

func (w *writer) value(v any) error {
	buf := w.out
	switch v := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := w.str(f.key); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := w.value(f.val); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case components:
		// Component ids in sorted order: the map a Node builds has no order
		// of its own.
		ids := make([]string, 0, len(v))
		for id := range v {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		buf.WriteByte('{')
		for i, id := range ids {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := w.str(id); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := w.value(v[id]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []string:
		buf.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := w.str(s); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case []object:
		buf.WriteByte('[')
		for i, o := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := w.value(o); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		return w.str(v)
	case int:
		fmt.Fprintf(buf, "%d", v)
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case null:
		buf.WriteString("null")
	case json.RawMessage:
		buf.Write(v)
	default:
		return fmt.Errorf("hass: internal: cannot encode %T", v)
	}
	return nil
}

// components is the "components" map of a device payload: component id to
// that component's object.
type components map[string]object

func (w *writer) str(s string) error {
	// json.Encoder without HTML escaping keeps "<", ">" and "&" readable in
	// templates; the output is still valid JSON for Home Assistant.
	w.scratch.Reset()
	if err := w.enc.Encode(s); err != nil {
		return err
	}
	w.out.Write(bytes.TrimSuffix(w.scratch.Bytes(), []byte{'\n'}))
	return nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encode(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
