package pbx

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// Timezone is one entry of /timezone/. ASSUMPTION: no public page documents the resource
// (UPSTREAM-API 3.11); an entry is read from an object with a name ({"name": "Europe/Moscow"}),
// as the simulator answers, or from a bare string.
type Timezone struct {
	Name string `json:"name"`
}

// UnmarshalJSON reads either form.
func (tz *Timezone) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &tz.Name)
	}
	type plain Timezone
	return json.Unmarshal(b, (*plain)(tz))
}

// TimezonesService lists the time zone names the PBX knows.
type TimezonesService service

// List returns every time zone: GET /timezone/ (no realm). ASSUMPTION: the list is short and
// not paged, so it is read in one request.
func (s *TimezonesService) List(ctx context.Context) ([]Timezone, error) {
	var out []Timezone
	if err := s.c.do(ctx, http.MethodGet, resTimezone.collection(Realm{}), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
