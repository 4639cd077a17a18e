# Builds the manager image: the manager binary only, on distroless, as a non-root user.
# The Go version and build flags match the Makefile ('make build' passes the same GO_BUILD_FLAGS and
# LDFLAGS, and 'make docker-build' hands them in as build arguments).
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS builder
ARG TARGETOS
ARG TARGETARCH
ARG GO_BUILD_FLAGS=-trimpath
ARG LDFLAGS="-s -w"

WORKDIR /workspace
# Cache the modules before copying the source, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/main.go cmd/main.go
COPY api/ api/
COPY internal/ internal/

# GOARCH has no default, so the binary is built for the platform of the host where the command runs
# unless the image is built with --platform (docker buildx).
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build ${GO_BUILD_FLAGS} -ldflags "${LDFLAGS}" -o manager ./cmd

# Distroless: no shell, no package manager, a non-root user (65532).
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
