#!/usr/bin/env bash
# Builds a LocalStack 4.14.0 image without pulling anything: a Debian bookworm minbase root
# filesystem (debootstrap, Debian's packages) plus, at the same absolute paths as on this machine,
# pyenv's Python 3.13.0, the LocalStack venv and DynamoDB Local root that `make localstack` built
# (.venv-localstack), and the JDK 17 its java/21 symlink points at; then `docker import`.
# The entrypoint runs LocalStack in host mode (a plain process) on 0.0.0.0:4566 with the settings
# internal/devstack/emulator/localstack.go uses; variables given to the container win.
#
#   docker-image.sh [TAG]       (default localstack-local:4.14.0; make localstack-image calls it)
# Needs root, debootstrap, make localstack done, a Docker engine at DOCKER_HOST. For machines with
# a Docker engine but no registry; where the registry answers, testcontainers pulls
# localstack/localstack:4.14.0 instead and this is not needed.
set -euo pipefail

WORK=${WORK:-$(mktemp -d)}
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
TAG=${1:-localstack-local:4.14.0}
PY=${PY:-$(dirname "$(dirname "$(readlink -f "$(command -v "${PYTHON313:-python3.13}")")")")}
LS=$REPO/.venv-localstack
MIRROR=${MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

die() { echo "docker-image: $*" >&2; exit 1; }
[[ -x $LS/venv/bin/python && -e $LS/root/usr/lib/localstack/dynamodb-local/2/DynamoDBLocal.jar ]] ||
  die "$LS is incomplete: run make localstack"
[[ -x $PY/bin/python3.13 ]] || die "no Python 3.13 at $PY"
JDK=$(readlink -f "$LS/root/usr/lib/localstack/java/21")   # the JDK the java/21 symlink names
[[ -x $JDK/bin/java ]] || die "no JDK at $JDK"

R=$WORK/rootfs
rm -rf "$R"
# Libraries pyenv's Python links (ssl, sqlite, ffi, bz2, lzma, readline, expat); the JDK needs
# only libc, libstdc++, zlib, all in minbase.
nice debootstrap --variant=minbase \
  --include=libssl3,libsqlite3-0,libffi8,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libexpat1,ca-certificates \
  bookworm "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail "$WORK/debootstrap.log"; die "debootstrap failed"; }
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*

copy() { # copy absolute path $1 into the root at the same path; extra args: tar excludes
  local src=$1; shift
  mkdir -p "$R$(dirname "$src")"
  tar -C "$(dirname "$src")" "$@" -cf - "$(basename "$src")" | tar -C "$R$(dirname "$src")" -xf -
}
copy "$PY" --exclude=python3.13/test --exclude='*.a'
copy "$LS/venv"
copy "$LS/root"
copy "$JDK"
# Debian's JDK keeps its conf/ and lib/security files as symlinks into /etc.
[[ -d /etc/java-17-openjdk ]] && copy /etc/java-17-openjdk

cat >"$R/usr/local/bin/localstack-entrypoint" <<EOF
#!/bin/sh
# LocalStack 4.14.0 in host mode inside the container (see emulators/localstack/docker-image.sh).
set -e
root=/var/lib/localstack-root
mkdir -p "\$root/usr/lib"
ln -sfn $LS/root/usr/lib/localstack "\$root/usr/lib/localstack"
cd "\$root"
# /.dockerenv exists in a container; host mode keeps the paths under FILESYSTEM_ROOT.
export OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="\$root"
export GATEWAY_LISTEN="\${GATEWAY_LISTEN:-0.0.0.0:4566}"
export LOCALSTACK_HOST="\${LOCALSTACK_HOST:-localhost:4566}"
export SQS_ENDPOINT_STRATEGY="\${SQS_ENDPOINT_STRATEGY:-off}"
export SERVICES="\${SERVICES:-sns,sqs,dynamodb}"
export EAGER_SERVICE_LOADING="\${EAGER_SERVICE_LOADING:-1}"
export DNS_ADDRESS="\${DNS_ADDRESS:-0}"
export DISABLE_EVENTS="\${DISABLE_EVENTS:-1}"
export SKIP_SSL_CERT_DOWNLOAD="\${SKIP_SSL_CERT_DOWNLOAD:-1}"
export PERSISTENCE="\${PERSISTENCE:-0}"
exec $LS/venv/bin/python -m localstack.runtime.main "\$@"
EOF
chmod 755 "$R/usr/local/bin/localstack-entrypoint"

# The root's own libraries must suffice: import what LocalStack needs inside a chroot (with /proc:
# the JDK's launcher finds libjli.so through $ORIGIN, read from /proc/self/exe).
mount -t proc proc "$R/proc"
trap 'umount "$R/proc" 2>/dev/null || true' EXIT
chroot "$R" $LS/venv/bin/python -c 'import ssl, sqlite3, ctypes, bz2, lzma, localstack.runtime.main' ||
  die "Python does not run inside the root"
chroot "$R" "$JDK/bin/java" -version >/dev/null 2>&1 || die "Java does not run inside the root"

umount "$R/proc"
docker rmi -f "$TAG" >/dev/null 2>&1 || true
tar -C "$R" --numeric-owner -cf - . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/localstack-entrypoint"]' \
  --change 'EXPOSE 4566' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$TAG"
rm -rf "$R"
docker image ls "$TAG"
