#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, etcd, kubectl) from the Go module proxy and prints
# the directory that holds them, in the layout envtest expects (KUBEBUILDER_ASSETS).
#
# Versions are pinned in one place: the go.mod files next to this script (k8s.io/kubernetes in
# ./go.mod, go.etcd.io/etcd/server/v3 in ./etcd/go.mod). The binaries are cached outside the
# checkout, in ${XDG_DATA_HOME:-~/.local/share}/kubebuilder-envtest/k8s/<version>-<os>-<arch>/,
# so a second call returns at once. An existing KUBEBUILDER_ASSETS is honoured as it is.
#
# Progress goes to stderr; the assets directory is the only line on stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binaries=(kube-apiserver etcd kubectl)

log() { printf 'envtest: %s\n' "$*" >&2; }
die() {
	log "error: $1"
	shift
	for line in "$@"; do log "  $line"; done
	exit 1
}

has_all() {
	local dir=$1 b
	for b in "${binaries[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
	has_all "$KUBEBUILDER_ASSETS" ||
		die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS does not hold ${binaries[*]}" \
			"unset KUBEBUILDER_ASSETS to have them built, or point it at a directory that has all three"
	log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
	echo "$KUBEBUILDER_ASSETS"
	exit 0
fi

command -v go >/dev/null || die "go is not on PATH" "install Go (see go.mod for the version) and retry"

# required <module> <go.mod>: the version a go.mod requires of a module.
required() { awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m) { print $(i + 1); exit } }' "$2"; }
k8s_version=$(required k8s.io/kubernetes "$here/go.mod")
k8s_version=${k8s_version#v}
etcd_version=$(required go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
[[ -n "$k8s_version" && -n "$etcd_version" ]] || die "cannot read the pinned versions from $here/go.mod and $here/etcd/go.mod"

platform="$(go env GOOS)-$(go env GOARCH)"
assets="${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/${k8s_version}-${platform}"
# The stamp records what the binaries were built from; any change of a go.mod or go.sum rebuilds.
stamp_want=$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/build.sh" | sha256sum | cut -d' ' -f1)
stamp="$assets/.pbx-operator-build"

if has_all "$assets" && [[ "$(cat "$stamp" 2>/dev/null)" == "$stamp_want" ]]; then
	echo "$assets"
	exit 0
fi

mkdir -p "$assets"
exec 9>"$assets/.lock"
if ! flock -n 9; then
	log "another build of $assets is running; waiting for it"
	flock 9
	if has_all "$assets" && [[ "$(cat "$stamp" 2>/dev/null)" == "$stamp_want" ]]; then
		echo "$assets"
		exit 0
	fi
fi

work=$(mktemp -d "$assets/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "building the local control plane into $assets"
log "kubernetes v$k8s_version (kube-apiserver, kubectl) and etcd $etcd_version, from the Go module proxy"
log "a cold build takes about 10 minutes on 2 cores; later calls are instant"

version_flags="-X k8s.io/component-base/version.gitVersion=v$k8s_version"
version_flags+=" -X k8s.io/component-base/version.gitMajor=${k8s_version%%.*}"
minor=${k8s_version#*.}
version_flags+=" -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
version_flags+=" -X k8s.io/component-base/version.gitTreeState=clean"
version_flags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$k8s_version"
version_flags+=" -X k8s.io/client-go/pkg/version.gitMajor=${k8s_version%%.*}"
version_flags+=" -X k8s.io/client-go/pkg/version.gitMinor=${minor%%.*}"
version_flags+=" -X k8s.io/client-go/pkg/version.gitTreeState=clean"

# build <name> <module dir> <package> <ldflags>: compiles one binary, printing a line of progress
# every 100 packages, and on failure the end of the compiler's output.
build() {
	local name=$1 dir=$2 pkg=$3 ldflags=$4 total start n=0 line last=
	start=$SECONDS
	total=$(cd "$dir" && go list -deps "$pkg" 2>"$work/$name.log" | wc -l) ||
		fail "$name" "listing the packages of $pkg failed"
	log "[$name] compiling up to $total packages"
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$work/$name.log"
		last=$line
		n=$((n + 1))
		if ((n % 100 == 0)); then log "[$name] $n/$total packages ($((SECONDS - start))s)"; fi
	done < <(cd "$dir" && CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w $ldflags" -o "$work/$name" "$pkg" 2>&1; echo "exit status $?")
	[[ "$last" == "exit status 0" ]] || fail "$name" "go build $pkg failed"
	log "[$name] done in $((SECONDS - start))s"
}

fail() {
	local name=$1 what=$2
	log "error: $what; the last lines of its output:"
	tail -n 30 "$work/$name.log" | sed 's/^/    /' >&2
	die "the local control plane was not built" \
		"check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY)) and that there are" \
		"about 3 GB free for the Go build cache ($(go env GOCACHE)), then run 'make envtest' again;" \
		"or set KUBEBUILDER_ASSETS to a directory that already holds ${binaries[*]}"
}

build etcd "$here/etcd" . ""
build kube-apiserver "$here" k8s.io/kubernetes/cmd/kube-apiserver "$version_flags"
build kubectl "$here" k8s.io/kubernetes/cmd/kubectl "$version_flags"

for b in "${binaries[@]}"; do mv -f "$work/$b" "$assets/$b"; done
echo "$stamp_want" >"$stamp"
log "built ${binaries[*]} in $assets"
echo "$assets"
