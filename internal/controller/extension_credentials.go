package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Keys of the SIP credentials Secret the operator writes for a phone.
const (
	sipUsername  = "username"
	sipPassword  = "password"
	sipDomain    = "domain"
	sipRegistrar = "registrar"
	sipURI       = "uri"
)

// annotationPasswordSet, on a credentials Secret, marks the password in it as set in the PBX, for
// one PBX extension: a digest of the extension's id and the password. It is empty from the moment
// the Secret takes a new password until the PBX has it, so a pass cut short sets it again. The PBX
// never shows a password back: this mark is the only record of what it has.
const annotationPasswordSet = "pbx.cloudpbx.dev/password-set"

// credentials is one pass's plan for a phone's SIP credentials.
type credentials struct {
	// secret is the Secret as it should be: data, labels, annotations and owner.
	secret *corev1.Secret
	// exists says whether the Secret exists; write whether it must be written.
	exists, write bool
	// set says that the PBX does not have the password yet.
	set bool
}

// passwordSetMark is the value of annotationPasswordSet for a password set on extension id.
func passwordSetMark(id int64, password string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "pbx-operator/sip\x00%d\x00%s", id, password))
	return hex.EncodeToString(sum[:16])
}

// planCredentials decides the SIP credentials of a phone x: the password (the user's, the one
// already delivered, or a new one when there is none or a rotation is asked for) and whether the
// Secret must be written and the password set in the PBX.
func (a *extensionAdapter) planCredentials(ctx context.Context, e *v1alpha1.Extension, x *pbx.Extension) (*credentials, error) {
	cur, err := a.credentialsSecret(ctx, e)
	if err != nil {
		return nil, err
	}
	rotation := e.Annotations[v1alpha1.AnnotationRotateCredentials]
	var password string
	switch {
	case e.Spec.PasswordSecretRef.Name != "":
		ref := e.Spec.PasswordSecretRef
		s, err := optedInSecret(ctx, a.kube, a.apiReader, e.Namespace, ref.Name, v1alpha1.LabelCredentialsPassword)
		if err != nil {
			if managed.Classify(err).Terminal {
				return nil, err
			}
			return nil, managed.DependencyNotReady("%v", err)
		}
		password = string(s.Data[ref.Key])
		if password == "" {
			return nil, managed.DependencyNotReady("The Secret %s/%s has no key %s with the SIP password", e.Namespace, ref.Name, ref.Key)
		}
	case cur != nil && len(cur.Data[sipPassword]) > 0 && cur.Annotations[v1alpha1.AnnotationRotateCredentials] == rotation:
		password = string(cur.Data[sipPassword])
	default:
		password = rand.Text()
	}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: e.Namespace,
			Name:      e.Spec.WriteCredentialsSecretRef.Name,
			Labels:    map[string]string{v1alpha1.LabelCredentials: v1alpha1.LabelCredentialsSIP},
			Annotations: map[string]string{
				annotationPasswordSet: "",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "Extension", Name: e.Name, UID: e.UID, Controller: new(true),
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			sipUsername:  []byte(x.Name),
			sipPassword:  []byte(password),
			sipDomain:    []byte(x.Domain),
			sipRegistrar: []byte(x.Domain),
			sipURI:       []byte("sip:" + x.Name + "@" + x.Domain),
		},
	}
	if rotation != "" {
		want.Annotations[v1alpha1.AnnotationRotateCredentials] = rotation
	}
	if cur != nil {
		// The patch is made only to the Secret that was read (uid and resourceVersion are its
		// preconditions): one deleted and replaced by somebody else's in between is not written.
		want.UID, want.ResourceVersion = cur.UID, cur.ResourceVersion
	}
	c := &credentials{secret: want, exists: cur != nil}
	mark := passwordSetMark(x.ID, password)
	if cur != nil && cur.Annotations[annotationPasswordSet] == mark && string(cur.Data[sipPassword]) == password {
		want.Annotations[annotationPasswordSet] = mark
	} else {
		c.set = true
	}
	c.write = cur == nil || !maps.EqualFunc(cur.Data, want.Data, bytes.Equal) ||
		cur.Labels[v1alpha1.LabelCredentials] != v1alpha1.LabelCredentialsSIP ||
		cur.Annotations[annotationPasswordSet] != want.Annotations[annotationPasswordSet] ||
		cur.Annotations[v1alpha1.AnnotationRotateCredentials] != rotation
	return c, nil
}

// credentialsSecret returns the Extension's credentials Secret, nil when there is none. The cache
// holds it once the operator wrote it; when the cache does not (yet) show it, a metadata-only read
// tells a missing Secret from somebody else's, whose data the operator never reads.
func (a *extensionAdapter) credentialsSecret(ctx context.Context, e *v1alpha1.Extension) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: e.Namespace, Name: e.Spec.WriteCredentialsSecretRef.Name}
	if a.written != nil {
		return a.written, nil
	}
	m := secretMeta()
	err := a.kube.Get(ctx, key, m)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if apierrors.IsNotFound(err) {
		// Not the operator's, or newer than the cache.
		if err := a.apiReader.Get(ctx, key, m); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
	}
	if !metav1.IsControlledBy(m, e) {
		return nil, managed.InvalidSpec("The Secret %s/%s exists and is not this Extension's: the operator writes only a Secret it made for the Extension; name another one in writeCredentialsSecretRef, or delete it",
			key.Namespace, key.Name)
	}
	// The operator's own Secret: its data from the API server (the cache holds metadata only).
	var s corev1.Secret
	if err := a.apiReader.Get(ctx, key, &s); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(&s, e) {
		return nil, managed.InvalidSpec("The Secret %s/%s exists and is not this Extension's: the operator writes only a Secret it made for the Extension; name another one in writeCredentialsSecretRef, or delete it",
			key.Namespace, key.Name)
	}
	return &s, nil
}

// writeCredentials writes the credentials Secret as planned, with the password-set mark of
// mark (empty: not set in the PBX yet).
func (a *extensionAdapter) writeCredentials(ctx context.Context, c *credentials, mark string) error {
	s := c.secret.DeepCopy()
	s.Annotations[annotationPasswordSet] = mark
	if !c.exists {
		if err := a.kube.Create(ctx, s); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return managed.Wait(connectionWait, "the credentials Secret %s appeared while it was being written", s.Name)
			}
			return mayNotWrite(s, err)
		}
	} else if err := a.kube.Patch(ctx, s, client.Merge); err != nil {
		return mayNotWrite(s, err)
	}
	c.exists = true
	c.secret = s
	a.written = s
	return nil
}

// mayNotWrite explains a write of the credentials Secret s that the API server forbade: the
// operator writes Secrets only in the namespaces it is granted (the Helm chart's
// rbac.secrets.writeNamespaces); other errors pass unchanged.
func mayNotWrite(s *corev1.Secret, err error) error {
	if !apierrors.IsForbidden(err) {
		return err
	}
	return fmt.Errorf("The operator may not write the credentials Secret %s in namespace %s: an administrator grants it "+ //nolint:staticcheck // a condition message
		"(the Helm chart's rbac.secrets.writeNamespaces), or unset writeCredentialsSecretRef: %w", s.Name, s.Namespace, err)
}

// secretMeta is an empty Secret metadata object: the manager caches only the metadata of Secrets,
// so that its memory does not grow with what their owners put in them.
func secretMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// credentialUses says in a message what a value of the credentials label gives a Secret for.
var credentialUses = map[string]string{
	v1alpha1.LabelCredentialsAccount:  "as PBX account credentials",
	v1alpha1.LabelCredentialsPassword: "as a SIP password",
	v1alpha1.LabelCredentialsSIP:      "as SIP credentials the operator writes",
}

// optedInSecret reads a Secret a user gave the operator for one use: it carries the credentials
// label with the value use. The cache holds the metadata of the opted-in Secrets only; the data
// of the one Secret is read from the API server, so a Secret's size costs memory only while it
// is used. For one that is not given for this use it tells a Secret given for another (account
// credentials are never a SIP password) or without the label (with the command that opts it in)
// from a missing one, with a metadata-only read: the operator never reads the data of a Secret
// not given to it.
func optedInSecret(ctx context.Context, c client.Reader, apiReader client.Reader, ns, name, use string) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	m := secretMeta()
	err := c.Get(ctx, key, m)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("Reading the Secret %s/%s: %w", ns, name, err) //nolint:staticcheck // a condition message
	}
	if apierrors.IsNotFound(err) {
		// Not opted in, or newer than the cache.
		if err := apiReader.Get(ctx, key, m); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("The Secret %s/%s does not exist", ns, name) //nolint:staticcheck // a condition message
			}
			return nil, fmt.Errorf("Reading the Secret %s/%s: %w", ns, name, err) //nolint:staticcheck // a condition message
		}
	}
	if got := m.Labels[v1alpha1.LabelCredentials]; got != use {
		return nil, notGiven(ns, name, got, use)
	}
	var s corev1.Secret
	if err := apiReader.Get(ctx, key, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("The Secret %s/%s does not exist", ns, name) //nolint:staticcheck // a condition message
		}
		return nil, fmt.Errorf("Reading the Secret %s/%s: %w", ns, name, err) //nolint:staticcheck // a condition message
	}
	// The label may have changed since the metadata was read: the data is used only under it.
	if got := s.Labels[v1alpha1.LabelCredentials]; got != use {
		return nil, notGiven(ns, name, got, use)
	}
	return &s, nil
}

// notGiven says that a Secret labelled got is not given for use, and how to give it.
func notGiven(ns, name, got, use string) error {
	if what, ok := credentialUses[got]; ok {
		return managed.InvalidSpec("The Secret %s/%s is given to the operator only %s (label %s=%s), not %s: name a Secret labelled %s=%s",
			ns, name, what, v1alpha1.LabelCredentials, got, credentialUses[use], v1alpha1.LabelCredentials, use)
	}
	return fmt.Errorf("The Secret %s/%s is not given to the operator %s: label it with kubectl -n %s label secret %s %s=%s", //nolint:staticcheck // a condition message
		ns, name, credentialUses[use], ns, name, v1alpha1.LabelCredentials, use)
}
