package hass

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid is matched (errors.Is) by every validation error Build returns.
var ErrInvalid = errors.New("hass: invalid Home Assistant discovery config")

// FieldError is one rule a Node broke. Entity is the entity id ("" for the
// node, device or origin), Key the discovery key or Node field at fault.
// Build joins all of them (errors.Join); errors.As finds the first.
type FieldError struct {
	Entity string
	Key    string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Entity == "" {
		return fmt.Sprintf("hass: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("hass: entity %q: %s: %s", e.Entity, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// problems collects FieldErrors for one entity (or the node).
type problems struct {
	entity string
	errs   []error
}

func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Entity: p.entity, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// validID reports whether s fits the characters Home Assistant allows for a
// node_id or object_id in a discovery topic: [a-zA-Z0-9_-]+.
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// maxTopicLen is the MQTT limit on a topic's UTF-8 length.
const maxTopicLen = 65535

// checkTopic reports why t cannot be a topic Home Assistant publishes to or
// subscribes on for one entity, or "" if it can.
func checkTopic(t string) string {
	switch {
	case t == "":
		return "empty topic"
	case len(t) > maxTopicLen:
		return "topic longer than 65535 bytes"
	case !utf8.ValidString(t):
		return "topic is not valid UTF-8"
	case strings.ContainsAny(t, "+#"):
		return fmt.Sprintf("topic %q contains an MQTT wildcard (+ or #)", t)
	case strings.ContainsRune(t, 0):
		return "topic contains a NUL character"
	}
	return ""
}

// checkPrefix reports why p cannot be a discovery prefix, or "".
func checkPrefix(p string) string {
	if r := checkTopic(p); r != "" {
		return r
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Sprintf("prefix %q starts or ends with /", p)
	}
	return ""
}

// checkURL follows Home Assistant's configuration_url rule: an http(s) URL
// with a host, or a homeassistant:// path.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: %v", s, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Sprintf("%q has no host", s)
		}
		return ""
	case "homeassistant":
		return ""
	}
	return fmt.Sprintf("%q: scheme must be http, https or homeassistant", s)
}

// checkText reports why a free-text value (name, payload, template) is
// unusable: Home Assistant reads payloads as UTF-8 JSON strings.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if strings.TrimSpace(s) == "" {
		return "empty or blank"
	}
	return ""
}

// seconds converts a duration option to whole seconds, as Home Assistant
// takes them.
func seconds(d time.Duration) (int, string) {
	switch {
	case d < 0:
		return 0, fmt.Sprintf("negative duration %v", d)
	case d%time.Second != 0:
		return 0, fmt.Sprintf("%v is not a whole number of seconds", d)
	case d/time.Second > 1<<31-1:
		return 0, fmt.Sprintf("%v is too long", d)
	}
	return int(d / time.Second), ""
}

// validObjectID follows Home Assistant's entity id rule for the part after
// the domain: lowercase letters, digits and single underscores, not at
// either end.
func validObjectID(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// slug turns an id made of [a-zA-Z0-9_-] into a valid entity object id.
func slug(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		if c == '_' && (b.Len() == 0 || strings.HasSuffix(b.String(), "_")) {
			continue
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), "_")
}
