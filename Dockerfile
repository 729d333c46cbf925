# rekey in a small container image: built from this repository, run as a non-root user
# on distroless (glibc and CA certificates, no shell, no package manager).
#   docker build -t rekey .
#   docker run --rm -v "$PWD:/work" -w /work -v "$HOME/.aws:/home/nonroot/.aws" rekey plan
# The release workflow (.github/workflows/release.yml) publishes it as
# ghcr.io/rekey-dev/rekey:VERSION. Checked by hadolint in the tests.

# The full Rust image: it has the C compiler the TLS library (aws-lc) builds with.
FROM rust:1.89-bookworm AS build
WORKDIR /src
# The commit date, for `rekey --version` (reproducible: not the time of the build).
ARG SOURCE_DATE_EPOCH
COPY . .
RUN cargo build --profile dist --locked --bin rekey \
    && install -D -m 0755 target/dist/rekey /out/rekey

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rekey /usr/local/bin/rekey
# rekey's state (journal, backups) lives under $HOME/.local/state/rekey: mount a volume
# there (or set REKEY_STATE_DIR) so a killed run's journal survives the container.
ENV HOME=/home/nonroot
# distroless's `nonroot` user, by number: Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/rekey"]
