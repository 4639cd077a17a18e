# Image URL to use all building/pushing image targets
IMG ?= ghcr.io/cloudpbx/pbx-operator:latest

# Go toolchain and build flags, shared with the Dockerfile (which passes the same GO_BUILD_FLAGS
# and LDFLAGS).
GO ?= go
GO_BUILD_FLAGS ?= -trimpath
LDFLAGS ?= -s -w
# The version that --version prints, stamped into the binaries with -X main.version (the Dockerfile
# takes it as its VERSION build argument).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_LDFLAGS = -X main.version=$(VERSION)

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'.

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen helm-docs ## Generate CustomResourceDefinitions and the manager's ClusterRole, write the chart's CRD templates and roles and every list of kinds (hack/rolegen: kustomizations, user roles, PROJECT, the docs' lists), docs/metrics.md (hack/metricsdoc), then the chart's README from its values (helm-docs).
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	$(GO) run ./hack/rolegen
	$(GO) run ./hack/metricsdoc
	@# After rolegen, which writes the lists of kinds into README.md.gotmpl.
	"$(HELM_DOCS)" --chart-search-root=charts --template-files=README.md.gotmpl --sort-values-order=file --log-level=warning

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	$(GO) vet ./...

.PHONY: test
test: helm test-monitoring ## Run every test with -race: unit, envtest integration, e2e and the short chaos run (builds the local control plane first), and the alerts' unit tests.
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		HELM="$(HELM)" KUBEBUILDER_ASSETS="$$assets" $(GO) test -race -count=1 -timeout 30m ./...

# The release and namespace the alerts are rendered for in their unit tests (the job in their
# selectors is this release's metrics Service).
MONITORING_RENDER = "$(HELM)" template pbx-operator charts/pbx-operator --namespace pbx-system --kube-version 1.30.0 \
	--set metrics.serviceMonitor.enabled=true --set monitoring.prometheusRule.enabled=true --show-only templates/prometheusrule.yaml
.PHONY: test-rules
test-rules: helm promtool ## Check the alerts the chart renders (monitoring.prometheusRule.enabled) with promtool check rules and run their unit tests (hack/monitoring/testdata/rules_test.yaml).
	@mkdir -p bin/monitoring
	@# The PrometheusRule's spec is a rules file: its groups.
	$(MONITORING_RENDER) | awk 'f { sub(/^  /, ""); print } /^spec:/ { f = 1 }' > bin/monitoring/rules.yaml
	@grep -q '^groups:' bin/monitoring/rules.yaml || { echo "the chart rendered no PrometheusRule groups"; exit 1; }
	"$(PROMTOOL)" check rules bin/monitoring/rules.yaml
	"$(PROMTOOL)" test rules hack/monitoring/testdata/rules_test.yaml
	@# Without leader election no manager reports a leader: PBXOperatorNoLeader must not be rendered.
	@if $(MONITORING_RENDER) --set leaderElection.enabled=false | grep -q 'alert: PBXOperatorNoLeader'; then \
		echo "PBXOperatorNoLeader is rendered with leaderElection.enabled=false"; exit 1; fi
	@# Alerts on a job nothing scrapes would page "manager down" forever: without the chart's
	@# ServiceMonitor the chart wants the job named, and uses the one it is given.
	@if $(MONITORING_RENDER) --set metrics.serviceMonitor.enabled=false >/dev/null 2>&1; then \
		echo "the PrometheusRule renders without a ServiceMonitor and without monitoring.prometheusRule.job"; exit 1; fi
	@$(MONITORING_RENDER) --set metrics.serviceMonitor.enabled=false --set monitoring.prometheusRule.job=my-scrape | grep -q 'up{job="my-scrape"' || { \
		echo "the alerts do not select monitoring.prometheusRule.job"; exit 1; }

.PHONY: test-monitoring
test-monitoring: test-rules ## Run the alerts' unit tests and the tests of hack/monitoring (the queries parse; every alert has a runbook section and a unit test).
	cd hack/monitoring && $(GO) test -count=1 ./...

.PHONY: test-integration
test-integration: ## Run the envtest suites only (API validation, controllers).
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		KUBEBUILDER_ASSETS="$$assets" $(GO) test -race -count=1 ./api/... ./internal/controller/...

.PHONY: test-e2e
test-e2e: helm ## Run the black-box tests: the control plane, the pbxsim and manager binaries, kubectl and helm.
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		HELM="$(HELM)" KUBEBUILDER_ASSETS="$$assets" $(GO) test -count=1 -timeout 30m -v ./test/e2e/

.PHONY: test-chaos
test-chaos: ## Run the long chaos suite (CHAOS_LONG=1): 1,000 Extensions, ~20% PBX faults, SIGKILLs, PBX data loss, deletes.
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		CHAOS_LONG=1 KUBEBUILDER_ASSETS="$$assets" $(GO) test -count=1 -timeout 60m -v ./test/chaos/

.PHONY: test-unit
test-unit: ## Run the tests that need no API server.
	$(GO) test -race -count=1 -short ./...

.PHONY: verify
verify: generate manifests ## Regenerate everything and tidy the modules, then fail if anything changed.
	$(GO) mod tidy
	cd hack/controlplane && $(GO) mod tidy
	cd hack/controlplane/etcd && $(GO) mod tidy
	cd hack/monitoring && $(GO) mod tidy
	@drift="$$(git status --porcelain -- go.mod go.sum api config hack charts docs README.md PROJECT)"; \
	if [ -n "$$drift" ]; then \
		echo "Generated files or go.mod/go.sum differ from what is committed:"; echo "$$drift"; \
		git --no-pager diff --stat -- go.mod go.sum api config hack charts docs README.md PROJECT; \
		echo "Run 'make generate manifests' and 'go mod tidy', then commit the result."; \
		exit 1; \
	fi

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	"$(GOLANGCI_LINT)" run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can.
	"$(GOLANGCI_LINT)" run --fix

.PHONY: lint-api
lint-api: kube-api-linter ## Check the API types in api/ against the Kubernetes API conventions (Kube API Linter, .golangci-kal.yml).
	"$(KUBE_API_LINTER)" run --config .golangci-kal.yml ./api/...

.PHONY: vulncheck
vulncheck: ## Check for known vulnerabilities in the code's call graph (govulncheck), offline: the database is built from the golang.org/x/vulndb module.
	@db="$(LOCALBIN)/vulndb-$(VULNDB_VERSION)"; \
	if [ ! -f "$$db/index/db.json" ]; then \
		src="$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')"; \
		echo "Indexing the vulnerability database of golang.org/x/vulndb@$(VULNDB_VERSION)"; \
		$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$$db.tmp" && mv "$$db.tmp" "$$db"; \
	fi; \
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db "file://$$db" ./...

.PHONY: logcheck
logcheck: logcheck-tool ## Check the structured logging calls (balanced key/value pairs, no V(0), no V() before Error).
	"$(LOGCHECK)" -check-contextual -check-value ./...

##@ Demo

ONCE ?=
.PHONY: demo
demo: build build-sim ## Run the operator on a local control plane against pbxsim with the samples (ONCE=1: check and exit).
	$(GO) build -o bin/demo ./hack/demo
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		exec bin/demo --assets "$$assets" $(if $(ONCE),--once)

##@ Benchmarks

BENCH_FULL ?=
# More flags for bin/bench, such as --sizes 100 --latencies 20ms, or --shards 1,2 to run each size
# on one manager and on two shard managers as well (bin/bench --help lists them).
BENCH_FLAGS ?=
.PHONY: bench
bench: build build-sim ## Measure the manager at default flags against pbxsim: 100 and 1,000 Extensions at 0 and 20 ms PBX latency (BENCH_FULL=1: also 10,000; BENCH_FLAGS='--shards=1,2' also on two shards); table, JSON, plot and the manager's recorded metrics in bin/bench.
	$(GO) build -o bin/bench/bench ./hack/bench
	assets="$$($(MAKE) -s --no-print-directory envtest)" && \
		exec bin/bench/bench --assets "$$assets" $(if $(filter-out 0 false,$(BENCH_FULL)),--full) $(BENCH_FLAGS)

# The recording that dashboard-render draws: the newest one make bench wrote.
DASHBOARD_RECORDING ?= $(shell ls -t bin/bench/metrics-*.txt 2>/dev/null | head -n 1)
.PHONY: dashboard-render
dashboard-render: ## Draw the Grafana dashboard (charts/pbx-operator/files/dashboards) into docs/dashboard.svg from the manager's metrics that the last 'make bench' recorded (DASHBOARD_RECORDING=bin/bench/metrics-RUN.txt picks a run).
	@[ -n "$(DASHBOARD_RECORDING)" ] || { echo "No recording in bin/bench: run 'make bench' first (for example BENCH_FLAGS='--sizes 1000 --latencies 20ms')."; exit 1; }
	cd hack/monitoring && $(GO) run . render --chart ../../charts/pbx-operator --recording "$(abspath $(DASHBOARD_RECORDING))" --out ../../docs/dashboard.svg

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/manager and the kubectl plugin into bin/kubectl-pbx.
	CGO_ENABLED=0 $(GO) build $(GO_BUILD_FLAGS) -ldflags "$(LDFLAGS) $(VERSION_LDFLAGS)" -o bin/manager ./cmd
	CGO_ENABLED=0 $(GO) build $(GO_BUILD_FLAGS) -ldflags "$(LDFLAGS) $(VERSION_LDFLAGS)" -o bin/kubectl-pbx ./cmd/kubectl-pbx

.PHONY: run
run: ## Run the manager on this machine against the cluster of the current kubeconfig.
	$(GO) run ./cmd --leader-elect=false

.PHONY: build-sim
build-sim: ## Build the PBX simulator into bin/pbxsim.
	CGO_ENABLED=0 $(GO) build $(GO_BUILD_FLAGS) -ldflags "$(LDFLAGS) $(VERSION_LDFLAGS)" -o bin/pbxsim ./cmd/pbxsim

SIM_FLAGS ?= --admin
.PHONY: run-sim
run-sim: ## Run the PBX simulator on 127.0.0.1:8090 with the demo tenant (flags in SIM_FLAGS).
	$(GO) run ./cmd/pbxsim $(SIM_FLAGS)

# The platforms of the kubectl plugin's release archives (krew's os/arch pairs) and their directory.
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
PLUGIN_DIST ?= dist/plugin
.PHONY: plugin-dist
plugin-dist: ## Cross-build the kubectl plugin for krew: $(PLUGIN_DIST)/kubectl-pbx_VERSION_OS_ARCH.tar.gz, their SHA256SUMS, and pbx.yaml (plugins/pbx.yaml with VERSION and the sums).
	@case "$(VERSION)" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "Note: VERSION=$(VERSION) is not a release tag; krew wants a semantic version such as v0.1.0 (make plugin-dist VERSION=v0.1.0)." ;; esac
	rm -rf "$(PLUGIN_DIST)"
	mkdir -p "$(PLUGIN_DIST)"
	@# Archives of the same commit are the same bytes: sorted entries, the commit's time, no owner, no gzip timestamp.
	mtime="$$(git log -1 --format=%ct 2>/dev/null || date +%s)"; \
	for platform in $(PLUGIN_PLATFORMS); do \
		os="$${platform%/*}"; arch="$${platform#*/}"; name="kubectl-pbx_$(VERSION)_$${os}_$${arch}"; stage="$(PLUGIN_DIST)/$$name"; \
		echo "Building $$name.tar.gz"; \
		mkdir -p "$$stage"; \
		CGO_ENABLED=0 GOOS="$$os" GOARCH="$$arch" $(GO) build $(GO_BUILD_FLAGS) -ldflags "$(LDFLAGS) $(VERSION_LDFLAGS)" -o "$$stage/kubectl-pbx" ./cmd/kubectl-pbx; \
		files=(kubectl-pbx); if [ -f LICENSE ]; then cp LICENSE "$$stage/"; files+=(LICENSE); fi; \
		tar --sort=name --mtime="@$$mtime" --owner=0 --group=0 --numeric-owner -C "$$stage" -cf - "$${files[@]}" | gzip -n -9 > "$(PLUGIN_DIST)/$$name.tar.gz"; \
		rm -rf "$$stage"; \
	done
	cd "$(PLUGIN_DIST)" && sha256sum -- *.tar.gz > SHA256SUMS
	@# The manifest without the template's header comment; every placeholder must be filled.
	subst=(-e "s|@VERSION@|$(VERSION)|g"); \
	for platform in $(PLUGIN_PLATFORMS); do \
		os="$${platform%/*}"; arch="$${platform#*/}"; \
		sum="$$(awk -v f="kubectl-pbx_$(VERSION)_$${os}_$${arch}.tar.gz" '$$2 == f { print $$1 }' "$(PLUGIN_DIST)/SHA256SUMS")"; \
		subst+=(-e "s|@SHA256_$${os^^}_$${arch^^}@|$$sum|g"); \
	done; \
	sed -e '1,/^apiVersion:/{/^#/d;}' "$${subst[@]}" plugins/pbx.yaml > "$(PLUGIN_DIST)/pbx.yaml"
	@if grep -n '@[A-Z0-9_]*@' "$(PLUGIN_DIST)/pbx.yaml"; then echo "$(PLUGIN_DIST)/pbx.yaml: placeholders left (a platform of plugins/pbx.yaml missing from PLUGIN_PLATFORMS?)"; exit 1; fi
	@cat "$(PLUGIN_DIST)/SHA256SUMS"
	@echo "Wrote the archives, SHA256SUMS and the krew manifest pbx.yaml into $(PLUGIN_DIST)/"

# If you wish to build the manager image targeting other platforms you can use the --platform flag.
# (i.e. docker build --platform linux/arm64). However, you must enable docker buildKit for it.
# More info: https://docs.docker.com/develop/develop-images/build_enhancements/
.PHONY: docker-build
docker-build: ## Build the manager image.
	$(CONTAINER_TOOL) build --build-arg GO_BUILD_FLAGS="$(GO_BUILD_FLAGS)" --build-arg LDFLAGS="$(LDFLAGS)" --build-arg VERSION="$(VERSION)" -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push the manager image.
	$(CONTAINER_TOOL) push ${IMG}

# PLATFORMS defines the target platforms for the manager image to be built to provide support to
# multiple architectures with docker buildx.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le
.PHONY: docker-buildx
docker-buildx: ## Build and push the manager image for cross-platform support.
	- $(CONTAINER_TOOL) buildx create --name pbx-operator-builder
	$(CONTAINER_TOOL) buildx use pbx-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --build-arg GO_BUILD_FLAGS="$(GO_BUILD_FLAGS)" --build-arg LDFLAGS="$(LDFLAGS)" --build-arg VERSION="$(VERSION)" --tag ${IMG} .
	- $(CONTAINER_TOOL) buildx rm pbx-operator-builder

.PHONY: base-image-digests
base-image-digests: ## Show the digests the Dockerfile pins its base images to, and the commands that look up newer ones.
	@echo "The Dockerfile pins its base images by digest:"
	@sed -n -e 's/^ARG GO_VERSION=/  golang tag:       /p' -e 's/^ARG GO_IMAGE_DIGEST=/  golang digest:    /p' \
		-e 's/^FROM gcr.io\/distroless\/static:nonroot@/  distroless digest: /p' Dockerfile
	@echo "To bump them, look up the digests of the image indexes (all platforms) that the tags point at now:"
	@echo "  crane digest golang:$$(sed -n 's/^ARG GO_VERSION=//p' Dockerfile)"
	@echo "  crane digest gcr.io/distroless/static:nonroot"
	@echo "or, with Docker: docker buildx imagetools inspect <image> --format '{{json .Manifest.Digest}}'."
	@echo "Put them into ARG GO_IMAGE_DIGEST and the distroless FROM line of the Dockerfile, then 'make docker-build'."

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate a consolidated YAML with CRDs and deployment in dist/install.yaml.
	mkdir -p dist
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the cluster of the current kubeconfig.
	"$(KUSTOMIZE)" build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the cluster of the current kubeconfig. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	"$(KUSTOMIZE)" build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the manager to the cluster of the current kubeconfig.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy the manager. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	"$(KUSTOMIZE)" build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
CONTAINER_TOOL ?= docker
KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
KUBE_API_LINTER ?= $(LOCALBIN)/golangci-lint-kube-api-linter
LOGCHECK ?= $(LOCALBIN)/logcheck
HELM ?= $(LOCALBIN)/helm
HELM_DOCS ?= $(LOCALBIN)/helm-docs
PROMTOOL ?= $(LOCALBIN)/promtool

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# Kube API Linter has no releases: a pseudo-version from the module proxy. Its standalone binary is
# golangci-lint (the version its go.mod requires) with the linter built in as a module plugin.
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997
LOGCHECK_VERSION ?= v0.11.0
GOVULNCHECK_VERSION ?= v1.9.0
# The Go vulnerability database as a module (no release tags: bump to a newer pseudo-version to get
# newer reports); vuln.go.dev itself is not reachable from the build machines.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
HELM_VERSION ?= v3.22.0
HELM_DOCS_VERSION ?= v1.14.2
# promtool is built from the Prometheus version that hack/monitoring/go.mod requires (the module
# that also parses and evaluates the alerts' and the dashboard's queries).
PROMETHEUS_VERSION ?= $(shell awk '$$1 == "github.com/prometheus/prometheus" { print $$2 }' hack/monitoring/go.mod)

.PHONY: envtest
envtest: ## Build (once) or find kube-apiserver, etcd and kubectl, and print their directory (KUBEBUILDER_ASSETS).
	@hack/controlplane/build.sh

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm locally if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: helm-docs
helm-docs: $(HELM_DOCS) ## Build helm-docs (the chart's README from values.yaml) locally if necessary.
$(HELM_DOCS): $(LOCALBIN)
	$(call go-install-tool,$(HELM_DOCS),github.com/norwoodj/helm-docs/cmd/helm-docs,$(HELM_DOCS_VERSION))

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool (Prometheus's rules checker, the version hack/monitoring/go.mod pins) locally if necessary; the first build takes about 5 minutes.
$(PROMTOOL): $(LOCALBIN)
	@[ -f "$(PROMTOOL)-$(PROMETHEUS_VERSION)" ] && [ "$$(readlink -- "$(PROMTOOL)" 2>/dev/null)" = "$(PROMTOOL)-$(PROMETHEUS_VERSION)" ] || { \
	set -e; \
	[ -n "$(PROMETHEUS_VERSION)" ] || { echo "hack/monitoring/go.mod requires no github.com/prometheus/prometheus"; exit 1; }; \
	echo "Building promtool $(PROMETHEUS_VERSION) from hack/monitoring/go.mod (about 5 minutes on two cores, once)"; \
	rm -f "$(PROMTOOL)"; \
	cd hack/monitoring && $(GO) build -o "$(PROMTOOL)-$(PROMETHEUS_VERSION)" github.com/prometheus/prometheus/cmd/promtool; \
	} ;\
	ln -sf "$$(realpath "$(PROMTOOL)-$(PROMETHEUS_VERSION)")" "$(PROMTOOL)"

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: kube-api-linter
kube-api-linter: $(KUBE_API_LINTER) ## Build Kube API Linter (golangci-lint with the kubeapilinter module) locally if necessary.
$(KUBE_API_LINTER): $(LOCALBIN)
	$(call go-install-tool,$(KUBE_API_LINTER),sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter,$(KUBE_API_LINTER_VERSION))

.PHONY: logcheck-tool
logcheck-tool: $(LOGCHECK) ## Build logcheck locally if necessary.
$(LOGCHECK): $(LOCALBIN)
	$(call go-install-tool,$(LOGCHECK),sigs.k8s.io/logtools/logcheck,$(LOGCHECK_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" $(GO) install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
