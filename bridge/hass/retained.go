package hass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrBadRetained is matched (errors.Is) by every error ParseRetained returns.
var ErrBadRetained = errors.New("hass: unusable retained discovery payload")

// MaxRetainedSize bounds the payload ParseRetained reads (1 MiB): a device
// config is a few kilobytes, anything far larger is not one of ours.
const MaxRetainedSize = 1 << 20

// ParseRetained reads the component set out of a device discovery payload
// retained on the broker (ours, or one written by an older version or
// another tool), so that Config.Update can remove what disappeared. It
// accepts full and abbreviated keys ("components"/"cmps",
// "platform"/"p"); as in Home Assistant, the abbreviation wins when both are
// present. An empty payload means nothing is announced: an empty set, no
// error. It reads broker data, so it never panics: anything else that is not
// a device payload with a valid platform for every component is an error
// matching ErrBadRetained.
func ParseRetained(payload []byte) (Components, error) {
	if len(payload) == 0 {
		return Components{}, nil
	}
	if len(payload) > MaxRetainedSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadRetained, len(payload), MaxRetainedSize)
	}
	if !utf8.Valid(payload) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrBadRetained)
	}
	root, err := jsonObject(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRetained, err)
	}
	raw, key := pick(root, "cmps", "components")
	if raw == nil {
		return nil, fmt.Errorf("%w: no \"components\" (or \"cmps\") key; not a device discovery payload", ErrBadRetained)
	}
	comps, err := jsonObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadRetained, key, err)
	}
	out := make(Components, len(comps))
	for id, rawComp := range comps {
		where := fmt.Sprintf("%s[%q]", key, id)
		if id == "" {
			return nil, fmt.Errorf("%w: %s: empty component id", ErrBadRetained, where)
		}
		comp, err := jsonObject(rawComp)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadRetained, where, err)
		}
		rawPlatform, pkey := pick(comp, "p", "platform")
		if rawPlatform == nil {
			return nil, fmt.Errorf("%w: %s: no \"platform\" (or \"p\") key", ErrBadRetained, where)
		}
		var platform string
		if err := json.Unmarshal(rawPlatform, &platform); err != nil {
			return nil, fmt.Errorf("%w: %s.%s: not a string", ErrBadRetained, where, pkey)
		}
		if !supportedPlatform(platform) {
			return nil, fmt.Errorf("%w: %s.%s: %q is not a platform Home Assistant supports", ErrBadRetained, where, pkey, platform)
		}
		out[id] = platform
	}
	return out, nil
}

// jsonObject decodes one JSON object into its raw members. A JSON null
// decodes into a nil map without error, so the first byte is checked first.
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	return m, nil
}

// pick returns the value of the abbreviated key if present, else of the full
// key, and the key it used.
func pick(m map[string]json.RawMessage, abbr, full string) (json.RawMessage, string) {
	if v, ok := m[abbr]; ok {
		return v, abbr
	}
	if v, ok := m[full]; ok {
		return v, full
	}
	return nil, full
}
