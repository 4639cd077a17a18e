package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/snapshot"
)

// extensionAdapter manages one Extension's PBX extension through its account's connection.
type extensionAdapter struct {
	poller
	conn       *account.Connection
	extensions objects[pbx.Extension]
	// phones are the account's phone settings read lately.
	phones *phones
	// groupID is the resolved group of the spec: groupRef's group, groupID, or nil for none; group
	// is the ExtensionGroup's, confirmed before a create that follows a fresh look.
	groupID *int64
	group   pbxRef
	// kube reads and writes the credentials Secrets; apiReader reads what the cache does not hold.
	kube      client.Client
	apiReader client.Reader
	// observed is what Observe saw in this pass; Update diffs against it. An adapter lives for
	// one pass (Connect makes a new one).
	observed *pbx.Extension
	// phone is the phone settings Observe read, nil when not read; created says the extension was
	// made in this pass, so its settings are the PBX's defaults and need no read.
	phone   *pbx.Phone
	created bool
	// creds is the plan for the SIP credentials, and written the credentials Secret this pass wrote.
	creds   *credentials
	written *corev1.Secret
}

var _ managed.Adapter[*v1alpha1.Extension] = (*extensionAdapter)(nil)

// Key says that an extension's natural key, its number, never changes in place: the PBX cannot
// renumber an extension, so one at the recorded id with another number is another extension.
func (a *extensionAdapter) Key(*v1alpha1.Extension) (string, bool) { return "", false }

// Realm is the account's client, where extensions live.
func (a *extensionAdapter) Realm() string { return "" }

// fullName is the PBX name of the extension: prefix*number.
func (a *extensionAdapter) fullName(e *v1alpha1.Extension) string {
	return pbx.FullName(a.conn.Prefix, e.Spec.Name)
}

// Observe finds the extension by id, or by its name (unique per client), and fills the status
// fields the PBX reports.
func (a *extensionAdapter) Observe(ctx context.Context, e *v1alpha1.Extension, since time.Time) (managed.Observation, error) {
	x, err := a.find(ctx, e, since)
	if err != nil {
		return managed.Observation{}, err
	}
	if x == nil {
		// A create follows. After a fresh look (the PBX lost the extension, or a create's answer
		// was lost) the PBX may have lost the group too and given its id to another: the group
		// must still be the ExtensionGroup's. Plain creates trust the group's status, costing no
		// GET each in a batch.
		if !since.IsZero() && mayWrite(e) && a.groupID != nil {
			err = a.group.confirm(ctx, groupName(a.conn))
		}
		return managed.Observation{}, err
	}
	if pbx.ShortName(x.Name) != e.Spec.Name {
		// The PBX cannot renumber an extension, so the one at the recorded id is another: ours is
		// gone (the PBX lost it and reused the id).
		return managed.Observation{}, nil
	}
	if x.Type != PBXType(e.Spec.Type) {
		return managed.Observation{}, managed.InvalidSpec("The PBX extension %s is of type %s, not %s; the PBX cannot change its type", x.Name, x.Type, PBXType(e.Spec.Type))
	}
	a.extensions.Own(x.ID, client.ObjectKeyFromObject(e))
	a.observed = x
	e.Status.FullName, e.Status.Domain = x.Name, x.Domain
	_, diff := extensionDiff(&e.Spec, a.groupID, x)
	if e.DeletionTimestamp.IsZero() {
		more, err := a.observePhone(ctx, e, x, since)
		if err != nil {
			return managed.Observation{}, err
		}
		diff = append(diff, more...)
	}
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID}, nil
}

// observePhone compares a phone's settings and SIP credentials with the spec, and names what
// differs. The settings are read only when the spec sets some (one GET).
func (a *extensionAdapter) observePhone(ctx context.Context, e *v1alpha1.Extension, x *pbx.Extension, since time.Time) ([]string, error) {
	var diff []string
	if hasPhoneSettings(&e.Spec.Phone) {
		if a.phone == nil && !a.created {
			p, err := a.phones.get(ctx, x.ID, since)
			if err != nil {
				return nil, err
			}
			a.phone = p
		}
		_, diff = phoneDiff(&e.Spec.Phone, a.phone)
	}
	if e.Spec.WriteCredentialsSecretRef.Name != "" {
		c, err := a.planCredentials(ctx, e, x)
		if err != nil {
			return nil, err
		}
		a.creds = c
		switch {
		case c.set:
			diff = append(diff, "SIP password")
		case c.write:
			diff = append(diff, "credentials Secret")
		}
	}
	return diff, nil
}

func (a *extensionAdapter) find(ctx context.Context, e *v1alpha1.Extension, since time.Time) (*pbx.Extension, error) {
	if id := managed.KnownID(e); id != 0 {
		return a.extensions.byID(ctx, id, since, func(ctx context.Context) (*pbx.Extension, error) {
			return a.conn.Client.Extensions.Get(ctx, a.conn.Realm, id)
		})
	}
	found, err := a.extensions.Find(ctx, a.fullName(e), since)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// Create creates the extension with its state sent explicitly (the PBX would make it blocked).
func (a *extensionAdapter) Create(ctx context.Context, e *v1alpha1.Extension) (int64, error) {
	if n := a.conn.ExtensionLen; n > 0 && len(e.Spec.Name) != n {
		return 0, managed.InvalidSpec("The number %s has %d digits; every extension number of this PBX client has %d", e.Spec.Name, len(e.Spec.Name), n)
	}
	x, err := a.extensions.create(ctx, e, func(ctx context.Context) (*pbx.Extension, error) {
		return a.conn.Client.Extensions.Create(ctx, a.conn.Realm, extensionCreate(&e.Spec, a.groupID))
	})
	if err != nil {
		return 0, err
	}
	a.created = true
	e.Status.FullName, e.Status.Domain = x.Name, x.Domain
	return x.ID, nil
}

// Update sends the fields that differ; a field removed from the spec is cleared with null.
func (a *extensionAdapter) Update(ctx context.Context, e *v1alpha1.Extension) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	if u, diff := extensionDiff(&e.Spec, a.groupID, a.observed); len(diff) > 0 {
		_, err := a.extensions.update(ctx, a.observed.ID, func(ctx context.Context) (*pbx.Extension, error) {
			return a.conn.Client.Extensions.Update(ctx, a.conn.Realm, a.observed.ID, u)
		})
		if err != nil {
			return err
		}
	}
	return a.updatePhone(ctx, e)
}

// updatePhone sets the phone settings that differ and, when it changed, the SIP password. The
// Secret takes a new password before the PBX does, marked as not set yet, and is marked set once
// the PBX answered: a pass cut short anywhere sets the same password again, and the Secret never
// lacks a password the PBX has.
func (a *extensionAdapter) updatePhone(ctx context.Context, e *v1alpha1.Extension) error {
	var u pbx.PhoneUpdate
	if hasPhoneSettings(&e.Spec.Phone) {
		u, _ = phoneDiff(&e.Spec.Phone, a.phone)
	}
	c := a.creds
	if c != nil && c.set {
		if c.write {
			if err := a.writeCredentials(ctx, c, ""); err != nil {
				return err
			}
		}
		u.Password = pbx.Set(string(c.secret.Data[sipPassword]))
	}
	if u != (pbx.PhoneUpdate{}) {
		p, err := a.conn.Client.Phones.Update(ctx, pbx.ExtensionRealm(a.observed.ID), u)
		if err != nil {
			a.phones.forget(a.observed.ID)
			return err
		}
		a.phones.put(a.observed.ID, p)
		a.phone, a.created = p, false
	}
	if c != nil && (c.set || c.write) {
		if err := a.writeCredentials(ctx, c, passwordSetMark(a.observed.ID, string(c.secret.Data[sipPassword]))); err != nil {
			return err
		}
		c.set, c.write = false, false
	}
	return nil
}

// Release forgets that the Extension owns a PBX extension.
func (a *extensionAdapter) Release(e *v1alpha1.Extension) {
	a.phones.forget(managed.KnownID(e))
	a.extensions.release(e)
}

// Delete deletes the extension.
func (a *extensionAdapter) Delete(ctx context.Context, e *v1alpha1.Extension) error {
	id := managed.KnownID(e)
	return a.extensions.remove(ctx, id, func(ctx context.Context) error {
		return a.conn.Client.Extensions.Delete(ctx, a.conn.Realm, id)
	})
}

// phones are one account's phone settings as last read or written, by extension id. The PBX lists
// no phone settings: each is a GET, so each is read at most once a poll interval (or when a
// reconcile asks for a fresh look), not on every pass of its Extension.
type phones struct {
	conn *account.Connection
	mu   sync.Mutex
	byID map[int64]phoneRead
}

// phoneRead is a phone's settings and when they were read.
type phoneRead struct {
	phone *pbx.Phone
	at    time.Time
}

// get returns the settings of extension id's phone: the last read when it is younger than the poll
// interval and than since, else a new read.
func (c *phones) get(ctx context.Context, id int64, since time.Time) (*pbx.Phone, error) {
	c.mu.Lock()
	r, ok := c.byID[id]
	c.mu.Unlock()
	if ok && snapshot.Fresh(r.at, time.Now(), c.conn.PollInterval(), since) {
		return r.phone, nil
	}
	p, err := c.conn.Client.Phones.Get(ctx, pbx.ExtensionRealm(id))
	if err != nil {
		c.forget(id)
		return nil, err
	}
	c.put(id, p)
	return p, nil
}

// put records settings the PBX answered with.
func (c *phones) put(id int64, p *pbx.Phone) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byID[id] = phoneRead{phone: p, at: time.Now()}
}

// forget drops what is known of extension id's phone.
func (c *phones) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
}
