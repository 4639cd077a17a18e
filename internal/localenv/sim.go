package localenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// SimAdmin calls one of pbxsim's admin controls (started with --admin) at simURL, such as
// SimAdmin(ctx, url, "PUT", "/clients/1/rate-limit", body, nil): in is sent as JSON when not nil,
// and the answer is decoded into out when out is not nil. An answer other than 2xx is an error.
func SimAdmin(ctx context.Context, simURL, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	url := strings.TrimSuffix(simURL, "/") + pbxsim.AdminPrefix + path
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pbxsim %s %s: %w", method, path, err)
	}
	defer res.Body.Close() //nolint:errcheck // read to the end or abandoned
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("pbxsim %s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("pbxsim %s %s: %w", method, path, err)
	}
	return nil
}

// SimSnapshot returns pbxsim's whole world (GET /_pbxsim/snapshot).
func SimSnapshot(ctx context.Context, simURL string) (pbxsim.Snapshot, error) {
	var s pbxsim.Snapshot
	err := SimAdmin(ctx, simURL, http.MethodGet, "/snapshot", nil, &s)
	return s, err
}
