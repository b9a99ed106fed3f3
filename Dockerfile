# syntax=docker/dockerfile:1
#
# The ChatServer as a small, static, non-root image.
#
#   docker build -t gosignalr/chatserver .
#   docker run --rm -p 5000:5000 gosignalr/chatserver
#
# Configuration is by environment, named like the ASP.NET Core ChatServer's
# (ASPNETCORE_URLS, Logging__LogLevel__Default, Cors__AllowedOrigins,
# ConnectionStrings__DefaultConnection or DATABASE_URL, ...), or an
# appsettings.json mounted into /app; see docker-compose.yml.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: a static binary that runs on distroless/static (no libc).
# -trimpath and -s -w: reproducible paths, no symbol tables (smaller image);
# no VCS stamping, .git is not in the build context.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/chatserver ./cmd/server

# distroless static: CA certificates, tzdata and a nonroot user (uid 65532),
# no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatserver /app/chatserver
WORKDIR /app
USER nonroot:nonroot
# "+" means every address, as in ASP.NET Core; the server accepts + and *.
ENV ASPNETCORE_URLS=http://+:5000
EXPOSE 5000
# The image has no shell or curl: the binary probes GET /health/ready on the
# port of ASPNETCORE_URLS itself and exits 0 (ready) or 1. Kubernetes can
# probe /health (liveness) and /health/ready (readiness) over HTTP instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["/app/chatserver", "--healthcheck"]
ENTRYPOINT ["/app/chatserver"]
