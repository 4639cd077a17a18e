# Builds the manager image: the manager binary only, on distroless, as a non-root user.
# The Go version and build flags match the Makefile ('make build' passes the same GO_BUILD_FLAGS and
# LDFLAGS, and 'make docker-build' hands them in as build arguments, with VERSION).
#
# Both base images are pinned by digest, so a build uses the bytes that were reviewed; the tag only
# documents where the digest came from. The digests were read from public projects that pin the same
# tags (no registry is reachable where they were chosen): check them, and look up newer ones, with
# the commands 'make base-image-digests' prints.
ARG GO_VERSION=1.26
# golang:1.26 (Go 1.26.8, Debian)
ARG GO_IMAGE_DIGEST=sha256:3c3e25a4da13fd0478eed2df1eb35a0e667094a7124d3993a6a1d30f71c17e79
FROM golang:${GO_VERSION}@${GO_IMAGE_DIGEST} AS builder
ARG TARGETOS
ARG TARGETARCH
ARG GO_BUILD_FLAGS=-trimpath
ARG LDFLAGS="-s -w"
ARG VERSION=dev

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
    go build ${GO_BUILD_FLAGS} -ldflags "${LDFLAGS} -X main.version=${VERSION}" -o manager ./cmd

# Distroless: no shell, no package manager, a non-root user (65532).
FROM gcr.io/distroless/static:nonroot@sha256:1c2c046bc09ed40fad370b599a0b1ae7987f55b01e247cf27a7c27cd97e5bbc7
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
