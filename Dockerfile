# Multi-stage build: a static callscope binary on a minimal base, non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.Version=${VERSION} -X main.Commit=${COMMIT}" \
      -o /out/callscope ./cmd/callscope \
 && mkdir -p /out/state/spool

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/callscope /usr/local/bin/callscope
# The spool must be writable by the non-root user (distroless nonroot = 65532).
COPY --from=build --chown=65532:65532 /out/state /var/lib/callscope
USER nonroot:nonroot
EXPOSE 9060/udp 9060/tcp 8080 8081 8082 9090
ENTRYPOINT ["/usr/local/bin/callscope"]
CMD ["serve"]
