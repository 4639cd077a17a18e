package controller_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// blackHoleCount is how many Accounts point at a PBX that accepts connections and never answers.
const blackHoleCount = 40

// blackHoleBound is how soon a healthy Account, and an Extension of it, must be Ready beside the
// black holes. One account's check at a time, each waiting 30 s for a black hole, took minutes.
const blackHoleBound = 10 * time.Second

// TestBlackHoleAccountsDelayNoOther: 40 Accounts whose PBX accepts connections and never answers
// do not delay a new healthy Account and its first Extension, which are Ready within seconds.
func TestBlackHoleAccountsDelayNoOther(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
	t.Parallel()
	holes := startBlackHoles(t, blackHoleCount)
	account, extension := besideBlackHoles(t, holes, 30*time.Second)
	t.Logf("beside %d black holes: the Account was Ready after %v, its Extension after %v", blackHoleCount, account, extension)
	if account > blackHoleBound || extension > blackHoleBound {
		t.Errorf("beside %d black holes the Account was Ready after %v and its Extension after %v, want both within %v",
			blackHoleCount, account, extension, blackHoleBound)
	}
	// The fault fired: the black holes were dialled as far as their namespace's share of the
	// checks allows (the rest wait in line for a slot).
	NewWithT(t).Eventually(holes.dialled).Should(BeNumerically(">=", 16), "black holes dialled (16: one namespace's share of the account checks, maxNamespaceChecks)")
}

// BenchmarkAccountBesideBlackHoles reports the time a healthy Account, and an Extension created
// with it, take to become Ready beside 40 Accounts whose PBX never answers:
//
//	go test -run '^$' -bench AccountBesideBlackHoles -benchtime 1x ./internal/controller/
func BenchmarkAccountBesideBlackHoles(b *testing.B) {
	for range b.N {
		holes := startBlackHoles(b, blackHoleCount)
		account, extension := besideBlackHoles(b, holes, time.Hour)
		b.ReportMetric(account.Seconds(), "s/account-ready")
		b.ReportMetric(extension.Seconds(), "s/extension-ready")
	}
}

// besideBlackHoles creates an Account for each black hole (in a namespace of their own, deleted
// again at cleanup) and waits until the account controller dialled one of them. Then it makes a
// world whose Account "pbx" it creates with an Extension, and returns how long after their
// creation the Account and the Extension were Ready; it fails if either takes longer than limit.
func besideBlackHoles(tb testing.TB, holes *blackHoles, limit time.Duration) (account, extension time.Duration) {
	tb.Helper()
	g := NewWithT(tb)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-"}}
	if err := k.Create(ctx, ns); err != nil {
		tb.Fatal(err)
	}
	var accounts []*v1alpha1.Account
	tb.Cleanup(func() {
		left := func() int {
			var list v1alpha1.AccountList
			if err := k.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
				return -1
			}
			return len(list.Items)
		}
		for _, a := range accounts {
			if err := k.Delete(ctx, a); client.IgnoreNotFound(err) != nil {
				tb.Errorf("deleting Account %s: %v", a.Name, err)
			}
		}
		// Deleting an account stops its check: none waits for its black hole. A failure here is
		// reported, and the cleanup goes on.
		soft := NewGomega(func(message string, _ ...int) { tb.Error(message) })
		soft.Eventually(left).WithTimeout(blackHoleBound).Should(BeZero(), "black-hole Accounts left after their deletion")
		// Closed, the black holes refuse any check at once, so the accounts go in any case: the
		// API server is shared with the package's other tests.
		holes.close()
		g.Eventually(left).WithTimeout(time.Minute).Should(BeZero(), "black-hole Accounts left")
	})
	for i := range holes.count() {
		name := fmt.Sprintf("hole-%d", i)
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
			StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": holes.url(i)},
		}
		a := &v1alpha1.Account{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name},
			Spec: v1alpha1.AccountSpec{
				ConnectionSpec:       v1alpha1.ConnectionSpec{URL: holes.url(i)},
				CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: name},
			},
		}
		for _, o := range []client.Object{secret, a} {
			if err := k.Create(ctx, o); err != nil {
				tb.Fatal(err)
			}
		}
		accounts = append(accounts, a)
	}
	g.Eventually(holes.dialled).ShouldNot(BeZero(), "no black hole was dialled")

	w := openWorld(tb, nil)
	tb.Cleanup(w.srv.Close)
	start := time.Now()
	a := w.account("pbx", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret)
	e := ext(w.ns, "first", "401")
	w.create(e)
	// Polled often (from the cache), so that the times are measured to 10 ms.
	g.Eventually(w.cond(a, v1alpha1.ConditionReady)).WithTimeout(limit).WithPolling(10*time.Millisecond).Should(Equal("True/Available"), "the healthy Account")
	account = time.Since(start)
	g.Eventually(w.cond(e, v1alpha1.ConditionReady)).WithTimeout(limit).WithPolling(10*time.Millisecond).Should(Equal("True/Available"), "its Extension")
	return account, time.Since(start)
}

// blackHoles are PBXs that accept connections and never answer: listeners on 127.0.0.1 that hold
// what they accept until closed, and count it.
type blackHoles struct {
	listeners []net.Listener
	accepted  []atomic.Int64
	wg        sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// startBlackHoles starts n black holes.
func startBlackHoles(tb testing.TB, n int) *blackHoles {
	tb.Helper()
	h := &blackHoles{accepted: make([]atomic.Int64, n)}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			h.close()
			tb.Fatal(err)
		}
		h.listeners = append(h.listeners, ln)
		h.wg.Go(func() { h.serve(i, ln) })
	}
	return h
}

// serve accepts the connections of black hole i and holds them.
func (h *blackHoles) serve(i int, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.accepted[i].Add(1)
		h.mu.Lock()
		if h.closed {
			_ = c.Close() // a black hole that closed drops what comes late
		} else {
			h.conns = append(h.conns, c)
		}
		h.mu.Unlock()
	}
}

func (h *blackHoles) count() int { return len(h.listeners) }

// url is the PBX URL of black hole i.
func (h *blackHoles) url(i int) string { return "http://" + h.listeners[i].Addr().String() + "/" }

// dialled is how many of the black holes accepted a connection.
func (h *blackHoles) dialled() int {
	n := 0
	for i := range h.accepted {
		if h.accepted[i].Load() > 0 {
			n++
		}
	}
	return n
}

// close stops the listeners and drops what they accepted; it may be called more than once.
func (h *blackHoles) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		// Closing only ends the test's black holes: there is nothing to do about a failure.
		for _, ln := range h.listeners {
			_ = ln.Close()
		}
		for _, c := range h.conns {
			_ = c.Close()
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
}
