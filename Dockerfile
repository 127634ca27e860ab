# syntax=docker/dockerfile:1
# shiplog: a static binary on a distroless base.
#   docker build -t shiplog .
#   docker run --rm -v $PWD/shiplog.yaml:/etc/shiplog/shiplog.yaml shiplog

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/shiplog ./cmd/shiplog

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shiplog /usr/local/bin/shiplog
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/shiplog"]
CMD ["--config", "/etc/shiplog/shiplog.yaml", "run"]
