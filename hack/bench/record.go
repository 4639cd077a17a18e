package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// maxScrape bounds one scrape of the manager's metrics.
const maxScrape = 32 << 20

// recorder scrapes the manager's metrics endpoint every interval during a run and appends each
// scrape to a file, for the dashboard's picture ('make dashboard-render', hack/monitoring). The
// file is the Prometheus text format of every scrape, each after a line
// "# scrape <Unix milliseconds>"; a failed scrape is the line "# scrape <Unix milliseconds> down"
// (Prometheus's up = 0).
type recorder struct {
	url  string
	path string
	done chan struct{}
	stop context.CancelFunc
	// scrapes and failures count what was recorded.
	scrapes, failures int
}

// metricsPath is the recording of one run's manager, of its shard's manager in a sharded run.
func metricsPath(outDir string, spec runSpec, shard string) string {
	if shard != "" {
		return filepath.Join(outDir, "metrics-"+spec.name()+"-"+shard+".txt")
	}
	return filepath.Join(outDir, "metrics-"+spec.name()+".txt")
}

// startRecorder starts scraping url every interval into path (truncated first).
func startRecorder(ctx context.Context, url, path string, interval time.Duration) (*recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &recorder{url: url, path: path, done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(r.done)
		w := bufio.NewWriter(f)
		defer func() {
			_ = w.Flush()
			_ = f.Close()
		}()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			r.scrape(ctx, w, interval)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return r, nil
}

// scrape records one scrape, unless the recorder stopped meanwhile.
func (r *recorder) scrape(ctx context.Context, w io.Writer, timeout time.Duration) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	at := time.Now()
	body, err := r.get(sctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		r.failures++
		_, _ = fmt.Fprintf(w, "# scrape %d down\n", at.UnixMilli())
		return
	}
	r.scrapes++
	_, _ = fmt.Fprintf(w, "# scrape %d\n", at.UnixMilli())
	_, _ = w.Write(body)
}

func (r *recorder) get(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close() //nolint:errcheck // read-only
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", r.url, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, maxScrape))
}

// finish stops the recorder and closes the recording.
func (r *recorder) finish() {
	if r == nil {
		return
	}
	r.stop()
	<-r.done
	progress("recorded %d scrapes of the manager's metrics (%d failed) in %s", r.scrapes, r.failures, r.path)
}
