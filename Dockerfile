# syntax=docker/dockerfile:1
#
# mabeam: the HTTP service (`mabeam serve`) in a small image.
#
#   docker build -t mabeam .
#   docker run --rm -p 4000:4000 -e MABEAM_SECURITY__AUTH_ENABLED=false mabeam
#
# Stage 1 builds the release binary (jemalloc, the default allocator feature); stage 2
# copies it into a slim Debian with a non-root user. The profile lives at
# /etc/mabeam/profile.toml (deploy/profile.toml; mount another file there to replace it)
# and every key can be overridden with MABEAM_<SECTION>__<KEY> environment variables.

ARG RUST_VERSION=1.88
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# The whole workspace (see .dockerignore): Cargo.lock pins every dependency (--locked).
COPY . .
# Cache mounts keep the registry and target directory between builds; the binary is
# copied out of the cache so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mabeam \
    && install -D -m 0755 target/release/mabeam /out/mabeam

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# curl is only for the HEALTHCHECK below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mabeam \
    && useradd --system --uid 10001 --gid mabeam --home-dir /nonexistent --shell /usr/sbin/nologin mabeam \
    && install -d -o mabeam -g mabeam -m 0750 /var/log/mabeam \
    && install -d -m 0755 /etc/mabeam
COPY --from=build /out/mabeam /usr/local/bin/mabeam
COPY deploy/profile.toml /etc/mabeam/profile.toml

USER 10001:10001
# Log lines go to stdout (the profile picks JSON); RUST_LOG sets the level.
ENV RUST_LOG=info
EXPOSE 4000
# /health answers 200 while the workers beat (healthy or degraded), 503 when one is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:4000/health || exit 1
# SIGTERM drains: /ready turns false, listeners close, in-flight requests finish within
# core.graceful_shutdown_timeout, then the process exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/mabeam"]
CMD ["serve", "--profile", "/etc/mabeam/profile.toml", "--listen", "0.0.0.0:4000"]
