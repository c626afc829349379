#!/usr/bin/env bash
# Builds the three service images from the committed Dockerfiles, as `copilot svc deploy` builds
# them: BuildKit, the workspace root as the context, the manifest's platform (linux/amd64), no
# build arguments, and tags them pubsub/<service>:TAG (make images).
#
#   images.sh [TAG]     (default: local)
#
# The base images are the Dockerfiles' build arguments GO_IMAGE and RUNTIME_IMAGE, whose defaults
# are the pinned images. Where a registry answers (they are here already, or `docker pull` gets
# them), the build uses exactly those. Where none does (this machine), it builds local stand-ins
# of them with standins.sh (Debian's packages and the Go module proxy only) and passes them by
# name as the two build arguments: the Dockerfile built is still the committed one.
# BASE_IMAGES=pinned or BASE_IMAGES=standins forces one side.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=${1:-local}
DOCKER=${DOCKER:-docker}
SERVICES=(publisher fulfilment promotion)
die() { echo "images: $*" >&2; exit 1; }

# The one place the pinned bases are named: the ARG lines of the Dockerfiles, which must agree.
arg() { sed -n "s/^ARG $1=//p" "Dockerfile.$2"; }
GO_PINNED=$(arg GO_IMAGE publisher) RUNTIME_PINNED=$(arg RUNTIME_IMAGE publisher)
[[ -n $GO_PINNED && -n $RUNTIME_PINNED ]] || die "Dockerfile.publisher has no ARG GO_IMAGE=... and ARG RUNTIME_IMAGE=..."
for svc in "${SERVICES[@]}"; do
  [[ $(arg GO_IMAGE "$svc") == "$GO_PINNED" && $(arg RUNTIME_IMAGE "$svc") == "$RUNTIME_PINNED" ]] ||
    die "Dockerfile.$svc pins other base images than Dockerfile.publisher"
done

$DOCKER info >/dev/null 2>&1 || die "no Docker engine answers ($DOCKER info); .ci/run starts one"

# BuildKit, as Docker Desktop and a current docker CLI build (Copilot runs `docker build`): the
# buildx plugin where there is one; else a CLI older than 23, whose `docker build` has BuildKit
# built in (Debian bookworm's docker.io: /usr/bin/docker).
if $DOCKER buildx version >/dev/null 2>&1; then
  build=($DOCKER buildx build --load)
elif [[ $($DOCKER version --format '{{.Client.Version}}' 2>/dev/null) =~ ^(1|20|21|22)\. ]]; then
  build=(env DOCKER_BUILDKIT=1 $DOCKER build)
elif [[ -x /usr/bin/docker && $(/usr/bin/docker version --format '{{.Client.Version}}' 2>/dev/null) =~ ^(20|21|22)\. ]]; then
  build=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
else
  die "no BuildKit client: install the docker buildx plugin"
fi

present() { $DOCKER image inspect "$1" >/dev/null 2>&1 || $DOCKER pull -q "$1" >/dev/null 2>&1; }
args=()
case ${BASE_IMAGES:-auto} in
  auto | pinned)
    if present "$GO_PINNED" && present "$RUNTIME_PINNED"; then
      echo "images: on the pinned bases $GO_PINNED and $RUNTIME_PINNED"
    elif [[ ${BASE_IMAGES:-auto} == pinned ]]; then
      die "the pinned bases cannot be pulled"
    else
      BASE_IMAGES=standins
    fi
    ;;
  standins) ;;
  *) die "BASE_IMAGES=$BASE_IMAGES: want pinned or standins" ;;
esac
if [[ ${BASE_IMAGES:-} == standins ]]; then
  # Same repository and tag, under pubsub-standin/, without the digest.
  go_tag=${GO_PINNED%@*} runtime_tag=${RUNTIME_PINNED%@*}
  go_standin=pubsub-standin/${go_tag##*/} runtime_standin=pubsub-standin/${runtime_tag##*/}
  go_version=${go_tag#*:}; go_version=${go_version%%-*}
  echo "images: no registry answers; on local stand-ins $go_standin (Go $go_version) and $runtime_standin"
  DOCKER=$DOCKER emulators/registry/standins.sh "$go_version" "$go_standin" "$runtime_standin"
  args=(--build-arg "GO_IMAGE=$go_standin" --build-arg "RUNTIME_IMAGE=$runtime_standin")
fi

for svc in "${SERVICES[@]}"; do
  start=$(date +%s)
  "${build[@]}" --platform linux/amd64 -f "Dockerfile.$svc" -t "pubsub/$svc:$TAG" "${args[@]}" . ||
    die "docker build of Dockerfile.$svc failed"
  echo "images: pubsub/$svc:$TAG built in $(($(date +%s) - start))s, $($DOCKER image inspect -f '{{.Size}}' "pubsub/$svc:$TAG") bytes"
done
