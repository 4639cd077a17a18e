// Package argocd tests the Argo CD health check shipped in docs/argocd/health.lua: it runs the Lua
// with gopher-lua, as Argo CD does, against pbx-operator objects in every state, and checks that
// the snippets in docs/argocd.md are that file.
package argocd
