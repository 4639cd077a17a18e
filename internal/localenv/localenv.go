package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is a running local control plane with the processes started on it.
type Env struct {
	// Dir holds the kubeconfig and the logs.
	Dir string
	// Kubeconfig is the path of a kubeconfig with cluster-admin rights.
	Kubeconfig string
	// KubectlPath is the kubectl built with the control plane.
	KubectlPath string

	cp    *envtest.Environment
	mu    sync.Mutex
	procs []*Proc
}

// Start starts etcd and kube-apiserver from assets (the KUBEBUILDER_ASSETS folder) and writes a
// kubeconfig into dir.
func Start(assets, dir string) (*Env, error) {
	for _, b := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s: run 'make envtest' to build the local control plane", b, assets)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cp := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := cp.Start(); err != nil {
		return nil, fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	e := &Env{Dir: dir, KubectlPath: filepath.Join(assets, "kubectl"), cp: cp}
	user, err := cp.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var kc []byte
		if kc, err = user.KubeConfig(); err == nil {
			e.Kubeconfig = filepath.Join(dir, "kubeconfig")
			err = os.WriteFile(e.Kubeconfig, kc, 0o600)
		}
	}
	if err != nil {
		e.Stop()
		return nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return e, nil
}

// Kubectl runs kubectl against the control plane and returns its output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	return e.KubectlIn(ctx, nil, args...)
}

// KubectlIn is Kubectl with a standard input.
func (e *Env) KubectlIn(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.KubectlPath, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %v: %w: %s", args, err, bytes.TrimSpace(errOut.Bytes()))
	}
	return out.String(), nil
}

// Proc is a process started by the Env, with its log in the Env's folder.
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Done is closed when the process exits.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended, once Done is closed.
func (p *Proc) Err() error { return p.err }

// RSS returns the resident memory of the process in bytes (Linux /proc only).
func (p *Proc) RSS() (int64, error) { return statusBytes(p.Pid(), "VmRSS") }

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck,gosec // it may be gone already
	<-p.done
}

// Stop asks the process to end (SIGTERM) and waits for it, up to 10 seconds.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck,gosec // it may be gone already
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Run starts a process with the kubeconfig in its environment, logging to <Dir>/<name>.log.
func (e *Env) Run(name, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(e.Dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig)
	if err := cmd.Start(); err != nil {
		f.Close() //nolint:errcheck,gosec // the start error is the one to report
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close() //nolint:errcheck,gosec // nothing is written any more
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p, nil
}

// Stop ends every process started by the Env, then the control plane.
func (e *Env) Stop() {
	e.mu.Lock()
	procs := e.procs
	e.procs = nil
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	if e.cp != nil {
		e.cp.Stop() //nolint:errcheck,gosec // best effort at the end
	}
}

// CheckFree fails when an address is already in use, with a message that says so plainly.
func CheckFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is already in use: stop what listens there, or choose another address", addr)
	}
	return l.Close()
}

// FreeAddr returns a free loopback address.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close() //nolint:errcheck // only the port number was wanted
	return l.Addr().String(), nil
}

// WaitHTTP waits until url answers (any status) or p exits or ctx ends.
func WaitHTTP(ctx context.Context, p *Proc, url string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close() //nolint:errcheck,gosec // only reachability matters
			if res.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v); see %s", p.Name, p.Err(), p.Log)
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not answer at %s; see %s", p.Name, url, p.Log), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
