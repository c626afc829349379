#!/usr/bin/env bash
# Builds local stand-ins for the two base images the Dockerfiles pin, for a machine with a Docker
# engine but no registry (this one). Nothing is pulled: both come from Debian's packages
# (debootstrap) and, for the builder, the Go toolchain the Go module proxy serves as
# golang.org/toolchain.
#
#   standins.sh GO_VERSION GO_TAG RUNTIME_TAG
#
#   GO_TAG       a Debian bookworm root with Go GO_VERSION in /usr/local/go, set up as the official
#                golang:<version>-bookworm image is (GOPATH=/go, PATH, GOTOOLCHAIN=local, WORKDIR /go).
#   RUNTIME_TAG  like gcr.io/distroless/static-debian12:nonroot: CA certificates, tzdata, /etc/passwd
#                and /etc/group with root, nobody and nonroot (65532), a /tmp, no shell, no package
#                manager, USER 65532 and WORKDIR /home/nonroot.
#
# make images calls it with the version and tags it reads from the Dockerfiles. Each stand-in is
# built once per tag (docker image inspect); STANDINS_REBUILD=1 builds them again. Needs root,
# debootstrap, Go and a Docker engine. The bookworm root is cached in STANDINS_CACHE.
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: $0 GO_VERSION GO_TAG RUNTIME_TAG" >&2; exit 2; }
GO_VERSION=$1 GO_TAG=$2 RUNTIME_TAG=$3
DOCKER=${DOCKER:-docker}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${STANDINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pubsub-standins}
GOARCH=${GOARCH:-amd64}

die() { echo "standins: $*" >&2; exit 1; }
have() { [[ ${STANDINS_REBUILD:-} != 1 ]] && $DOCKER image inspect "$1" >/dev/null 2>&1; }

if have "$GO_TAG" && have "$RUNTIME_TAG"; then
  echo "standins: $GO_TAG and $RUNTIME_TAG already built"
  exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
[[ $(id -u) == 0 ]] || die "debootstrap needs root"

# A Debian bookworm minbase root with CA certificates and tzdata, made once and kept as a tarball.
mkdir -p "$CACHE"
ROOT_TAR=$CACHE/bookworm-minbase.tar
if [[ ! -s $ROOT_TAR ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "standins: debootstrap bookworm (minbase, ca-certificates, tzdata) from $MIRROR"
  nice debootstrap --variant=minbase --include=ca-certificates,tzdata bookworm "$work/root" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || { tail "$CACHE/debootstrap.log"; die "debootstrap failed"; }
  rm -rf "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/lib/apt/lists/*
  tar -C "$work/root" --numeric-owner -cf "$ROOT_TAR.tmp" .
  mv "$ROOT_TAR.tmp" "$ROOT_TAR"
  rm -rf "$work"
  trap - EXIT
fi

# --- the builder: the bookworm root plus the Go toolchain module for GO_VERSION
if ! have "$GO_TAG"; then
  mod=golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$GOARCH
  echo "standins: $mod from the Go module proxy"
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -f $dir/bin/go ]] || die "no Go toolchain in $mod (dir '$dir')"
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  mkdir -p "$work/root"
  tar -C "$work/root" -xf "$ROOT_TAR"
  mkdir -p "$work/root/usr/local" "$work/root/go/bin" "$work/root/go/src"
  cp -a "$dir" "$work/root/usr/local/go"
  chmod -R u+w "$work/root/usr/local/go"
  # The module cache keeps no execute bits; the go command sets them on bin/ and pkg/tool/ when it
  # switches to a toolchain module, and so does this.
  chmod 755 "$work"/root/usr/local/go/bin/* "$work"/root/usr/local/go/pkg/tool/*/*
  chmod 1777 "$work/root/go"   # as the official image: any user may build there
  # The machine's own extra CAs (a TLS-inspecting egress proxy's, say: this one reaches the Go
  # module proxy through one), trusted by the builder as the host trusts them, so `go mod download`
  # in the build works here; the official image needs none on a machine without such a proxy.
  for ca in "${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"/*.crt; do
    [[ -f $ca ]] || continue
    install -D -m 644 "$ca" "$work/root/usr/local/share/ca-certificates/$(basename "$ca")"
    { echo; cat "$ca"; } >>"$work/root/etc/ssl/certs/ca-certificates.crt"
    echo "standins: the builder also trusts $(basename "$ca") (this machine's)"
  done
  tar -C "$work/root" --numeric-owner -cf - . | $DOCKER import \
    --change "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV GOLANG_VERSION=$GO_VERSION" \
    --change "ENV GOTOOLCHAIN=local" \
    --change "ENV GOPATH=/go" \
    --change "WORKDIR /go" \
    --change 'CMD ["bash"]' \
    - "$GO_TAG" >/dev/null
  got=$($DOCKER run --rm --network none "$GO_TAG" go version) || die "go does not run in $GO_TAG"
  [[ $got == "go version go$GO_VERSION linux/$GOARCH" ]] || die "$GO_TAG: go version says '$got'; want go$GO_VERSION"
  echo "standins: built $GO_TAG ($got)"
  chmod -R u+w "$work"; rm -rf "$work"
  trap - EXIT
fi

# --- the final base: only the files a static binary needs, no shell
if ! have "$RUNTIME_TAG"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/debian" "$work/root"
  tar -C "$work/debian" -xf "$ROOT_TAR" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo
  r=$work/root
  mkdir -p "$r/etc/ssl/certs" "$r/usr/share" "$r/tmp" "$r/home/nonroot" "$r/root"
  cp "$work/debian/etc/ssl/certs/ca-certificates.crt" "$r/etc/ssl/certs/"
  cp -a "$work/debian/usr/share/zoneinfo" "$r/usr/share/"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root" "$r/home/nonroot"
  chown 65532:65532 "$r/home/nonroot"
  [[ ! -e $r/bin/sh ]] || die "the runtime root has a shell"
  tar -C "$r" --numeric-owner -cf - . | $DOCKER import \
    --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "USER 65532" \
    --change "WORKDIR /home/nonroot" \
    - "$RUNTIME_TAG" >/dev/null
  echo "standins: built $RUNTIME_TAG"
  rm -rf "$work"
  trap - EXIT
fi
