package pbx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// optState is the state of an Opt: the zero value is unset, so an Opt left out of a literal is
// left out of the request body.
type optState uint8

const (
	optUnset optState = iota
	optValue
	optNull
)

// Opt is an optional field of a request body or a list filter. It has three states: unset (the
// zero value, left out of the body, so a PUT leaves the field unchanged), a value (Set), and an
// explicit null (Null) that clears a nullable field. Request types tag every Opt field
// `json:",omitzero"`; an unset Opt marshalled on its own is an error, so a missing tag fails
// loudly instead of clearing a field.
//
//	pbx.ExtensionUpdate{
//		Status:  pbx.Set(pbx.StatusActive), // change the status
//		Label:   pbx.Null[string](),        // clear the label
//		                                    // every other field stays as it is
//	}
type Opt[T any] struct {
	v     T
	state optState
}

// Set returns an Opt holding v.
func Set[T any](v T) Opt[T] { return Opt[T]{v: v, state: optValue} }

// Null returns an Opt that sends an explicit null.
func Null[T any]() Opt[T] { return Opt[T]{state: optNull} }

// IsZero reports whether the Opt is unset; encoding/json's omitzero uses it to leave the field out.
func (o Opt[T]) IsZero() bool { return o.state == optUnset }

// IsNull reports whether the Opt is an explicit null.
func (o Opt[T]) IsNull() bool { return o.state == optNull }

// Get returns the value and whether there is one; it is false for unset and null.
func (o Opt[T]) Get() (T, bool) { return o.v, o.state == optValue }

// errUnsetOpt is the error of marshalling an unset Opt: its field lacks the omitzero tag.
var errUnsetOpt = errors.New("pbx: an unset Opt was marshalled; tag its field omitzero")

// MarshalJSON writes the value or null.
func (o Opt[T]) MarshalJSON() ([]byte, error) {
	switch o.state {
	case optValue:
		return json.Marshal(o.v)
	case optNull:
		return []byte("null"), nil
	default:
		return nil, errUnsetOpt
	}
}

// LooseString is a text field the PBX types loosely: it decodes from a JSON string, a number or
// a boolean (kept as their JSON text), and from an object or array (kept as compact JSON). Fields
// such as did_as_transfer_caller_id are strings in some clients and numbers in others
// (UPSTREAM-API 4.15), and extra_params holds free-form text that integrators fill with JSON.
// It encodes as a JSON string.
type LooseString string

// UnmarshalJSON decodes any JSON value but null (which leaves the value as it is, as
// encoding/json does for other types).
func (s *LooseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("pbx: empty JSON value")
	case string(b) == "null":
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = LooseString(v)
	case b[0] == '{' || b[0] == '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*s = LooseString(buf.String())
	default:
		if !json.Valid(b) {
			return fmt.Errorf("pbx: invalid JSON value %q", b)
		}
		*s = LooseString(b)
	}
	return nil
}

// LooseInt is an integer field that the PBX may write as a number or as a numeric string, such
// as the client's extension_len, which its field table calls a string. It encodes as a number.
type LooseInt int64

// UnmarshalJSON decodes a JSON integer or a string holding one; null leaves the value as it is.
func (n *LooseInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		b = []byte(v)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("pbx: %q is not an integer", b)
	}
	*n = LooseInt(v)
	return nil
}
