package woocommercetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// object is a JSON object that keeps its keys in order, so that a stored
// order comes back out with its fields where WooCommerce puts them.
type object struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseObject(b []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := &object{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.set(key, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *object) clone() *object {
	c := &object{keys: append([]string(nil), o.keys...), vals: make(map[string]json.RawMessage, len(o.vals))}
	for k, v := range o.vals {
		c.vals[k] = v
	}
	return c
}

func (o *object) has(key string) bool {
	_, ok := o.vals[key]
	return ok
}

// set stores v under key, marshalling it unless it is already raw JSON. A
// new key goes last.
func (o *object) set(key string, v any) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			panic(fmt.Sprintf("woocommercetest: %s: %v", key, err))
		}
	}
	if !o.has(key) {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = raw
}

// str returns the string value of key, or "" when it is absent or not a
// string.
func (o *object) str(key string) string {
	var s string
	_ = json.Unmarshal(o.vals[key], &s)
	return s
}

// num returns the text of key's value, a JSON number or a string.
func (o *object) num(key string) string {
	raw := bytes.TrimSpace(o.vals[key])
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// MarshalJSON implements json.Marshaler.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// wpJSON encodes v as WordPress's wp_json_encode does, which both the REST
// API and webhook deliveries use: compact, "/" as "\/", non-ASCII as
// lower-case \uXXXX (surrogate pairs beyond the BMP), <, > and & as they are.
func wpJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("woocommercetest: encode: %v", err))
	}
	// Re-compact: raw messages stored from pretty-printed fixtures keep
	// their indentation through Encode.
	var compact bytes.Buffer
	if err := json.Compact(&compact, buf.Bytes()); err != nil {
		panic(fmt.Sprintf("woocommercetest: compact: %v", err))
	}
	b := compact.Bytes()
	out := make([]byte, 0, len(b)+len(b)/8)
	inString, escaped := false, false
	for len(b) > 0 {
		c := b[0]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b)
			b = b[size:]
			if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			escaped = false
			continue
		case escaped:
			escaped = false
			// A '/' written as "\/" by the source stays as it is.
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		case c == '/' && inString:
			out = append(out, '\\')
		}
		out = append(out, c)
		b = b[1:]
	}
	return out
}

// restError is WooCommerce's error body, {"code","message","data":{"status"}}.
func restError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"code": code, "message": message, "data": map[string]int{"status": status}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(wpJSON(v))
}
