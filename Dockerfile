# syntax=docker/dockerfile:1
#
# Keyward's container image: one static binary on distroless (no shell, no package manager,
# no libc), run as the unprivileged user 65532, its data on a volume.
#
#   docker build -t keyward --build-arg VERSION=$(git describe --always) \
#     --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -d --name keyward -p 8080:8080 -v keyward-data:/data keyward
#   docker logs keyward      # the root admin key, printed once on the first start
#
# See docs/operations.md, "Running in a container or under systemd".

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The modules first, so that a change to the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN COMMIT="$COMMIT" deploy/build-static.sh /out/keyward "$VERSION"
# The data directory, owned by the image's user and private to it: a new named volume
# mounted on /data starts as a copy of it, owner and mode included.
RUN install -d -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyward /keyward
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
USER 65532:65532
ENV KEYWARD_ADDR=0.0.0.0:8080 \
    KEYWARD_DATA=/data
VOLUME ["/data"]
EXPOSE 8080
# Exec form: the image has no shell. keyward healthcheck GETs /readyz on KEYWARD_ADDR.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/keyward", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/keyward"]
CMD ["serve"]
