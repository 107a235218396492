#!/usr/bin/env bash
# Offline checks of the Helm chart (deploy/helm/shop), for its values.yaml and every example
# values file next to it (values-*.yaml):
#   1. helm lint --strict            (values.schema.json included)
#   2. helm template                 (the chart's own checks of the layout fail here)
#   3. kubernetes-validate --strict  (every rendered object against the Kubernetes 1.33 schemas)
#   4. kube-score score              (good practice: probes, security context, PDB, policies...)
#
#   scripts/k8s-check.sh                  install the tools if missing, then check
#   scripts/k8s-check.sh --install-only   only install them (scripts/test.sh does this before jest)
#   scripts/k8s-check.sh --out DIR        keep the rendered manifests in DIR (<values file>.yaml)
#
# The tools are built or installed once into the cache that scripts/stack.sh uses, then found there
# (no network needed): Helm and kube-score with `go install` through the Go module proxy,
# kubernetes-validate (which ships the Kubernetes schemas) from PyPI into a virtualenv
# (K8S_CHECK_GOPROXY names another Go module proxy). Exits non-zero if anything fails; every
# values file is checked before it does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/deploy/helm/shop"
CACHE_DIR="${STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moleculer-shop}"
BIN="$CACHE_DIR/bin"
VENV="$CACHE_DIR/k8s-validate-venv"

HELM_VERSION="v3.22.0"
# Helm's Makefile stamps the Kubernetes version it targets by default (client-go v0.37 in Helm
# v3.22.0's go.mod: 1.37); `go install` alone would leave 1.20 and an unversioned binary.
HELM_K8S_MINOR="37"
KUBE_SCORE_VERSION="v1.20.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"
# The Kubernetes version the chart is checked against.
KUBE_VERSION="1.33.0"
# A Go toolchain new enough for both builds, fetched through the module proxy when the machine's
# go is missing or too old to fetch one itself (Debian 12's golang-go is 1.19).
GO_TOOLCHAIN="go1.26.0"

export GOPROXY="${K8S_CHECK_GOPROXY:-https://proxy.golang.org}" GOFLAGS=-mod=mod GOTOOLCHAIN=auto

log() { printf '[k8s-check] %s\n' "$*" >&2; }
die() { printf '[k8s-check] error: %s\n' "$*" >&2; exit 1; }

install_only=false
out_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --install-only) install_only=true ;;
    --out) out_dir="${2:?--out needs a directory}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

# ---------------------------------------------------------------- installation

go_minor() { "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }

# A go that can build the tools: the machine's when it is 1.21 or newer (it fetches the toolchain
# the modules ask for), else the one cached here, else one fetched from the module proxy.
go_cmd() {
  if command -v go >/dev/null && [ "$(go_minor go)" -ge 21 ] 2>/dev/null; then
    echo go
    return
  fi
  local cached="$CACHE_DIR/go-$GO_TOOLCHAIN/go/bin/go"
  if [ ! -x "$cached" ]; then
    local arch
    case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) die "no Go toolchain for $(uname -m)" ;; esac
    log "fetching the Go toolchain $GO_TOOLCHAIN from the module proxy"
    local zip="$CACHE_DIR/go-$GO_TOOLCHAIN.zip"
    mkdir -p "$CACHE_DIR/go-$GO_TOOLCHAIN"
    local url="$GOPROXY/golang.org/toolchain/@v/v0.0.1-$GO_TOOLCHAIN.linux-$arch.zip"
    if command -v curl >/dev/null; then
      curl -fsSL -o "$zip" "$url"
    else
      python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$zip"
    fi
    # The module zip holds golang.org/toolchain@v0.0.1-.../...: unpack it as a GOROOT named go/
    # (module zips keep no file modes: bin/ and pkg/tool/ become executable, as go itself does).
    python3 - "$zip" "$CACHE_DIR/go-$GO_TOOLCHAIN/go" <<'PY'
import os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        name = info.filename.split("@", 1)[1].partition("/")[2]
        if not name or name.endswith("/"):
            continue
        path = os.path.join(dest, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(info) as f, open(path, "wb") as out:
            out.write(f.read())
        if name.startswith(("bin/", "pkg/tool/")):
            os.chmod(path, 0o755)
PY
    rm -f "$zip"
  fi
  echo "$cached"
}

install_helm() {
  if [ -x "$BIN/helm" ] && [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then return; fi
  log "building Helm $HELM_VERSION (go install, a few minutes the first time)"
  local go started=$SECONDS
  go="$(go_cmd)"
  GOBIN="$BIN" "$go" install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  log "Helm built in $((SECONDS - started)) s"
}

install_kube_score() {
  if [ -x "$BIN/kube-score" ] && [ "$("$BIN/kube-score" version 2>/dev/null | sed -n 's/^kube-score version: \([^,]*\),.*/\1/p')" = "$KUBE_SCORE_VERSION" ]; then return; fi
  log "building kube-score $KUBE_SCORE_VERSION (go install)"
  local go started=$SECONDS
  go="$(go_cmd)"
  GOBIN="$BIN" "$go" install -trimpath -ldflags "-s -w -X main.version=$KUBE_SCORE_VERSION" \
    "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" >&2
  log "kube-score built in $((SECONDS - started)) s"
}

install_kubernetes_validate() {
  if [ -x "$VENV/bin/kubernetes-validate" ] && [ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]; then return; fi
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI) into $VENV"
  local started=$SECONDS
  command -v python3 >/dev/null || die "python3 is needed for kubernetes-validate"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 comes without venv.
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then die "python3 -m venv failed: install python3-venv"; fi
    log "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  log "kubernetes-validate installed in $((SECONDS - started)) s"
}

mkdir -p "$BIN"
install_helm
install_kube_score
install_kubernetes_validate
$install_only && exit 0

# ---------------------------------------------------------------- checks

HELM="$BIN/helm"
KUBE_SCORE="$BIN/kube-score"
VALIDATE="$VENV/bin/kubernetes-validate"

# kube-score: the optional checks that hold for this chart are turned on; one default check is off:
# - container-image-pull-policy wants `Always`. The chart's image tag is a release version, never
#   moved, so IfNotPresent pulls the same bytes without a registry round trip on every pod start,
#   and a node that restarts pods while the registry is down still starts them. (image.pullPolicy
#   can say Always.)
# Left off (optional): requests equal to limits (Guaranteed QoS). The defaults keep requests at the
# steady load and limits above it, so the scheduler packs by the real need and the HPA has headroom.
KUBE_SCORE_FLAGS=(
  --output-format ci --exit-one-on-warning
  --kubernetes-version "v${KUBE_VERSION%.*}"
  --enable-optional-test container-seccomp-profile
  --enable-optional-test container-ports-check
  --enable-optional-test deployment-strategy
  --ignore-test container-image-pull-policy
)
# The demo is one pod on purpose (one process owns the SQLite files on its volume), so:
# - deployment-replicas (wants 2 or more) does not apply;
# - deployment-strategy (wants RollingUpdate) does not: a second pod during a rollout would open
#   the same SQLite files, so the demo's Deployment is Recreate.
kube_score_extra() {
  case "$1" in
    values-demo.yaml) echo --ignore-test deployment-replicas --ignore-test deployment-strategy ;;
  esac
}

# kubernetes-validate exits 0 on a kind it has no schema for (a warning): with --quiet, any output fails.
validate() {
  local output
  output="$("$VALIDATE" --strict --kubernetes-version "$KUBE_VERSION" --quiet "$1" 2>&1)" || { printf '%s\n' "$output"; return 1; }
  [ -z "$output" ] || { printf '%s\n' "$output"; return 1; }
}

render_dir="${out_dir:-$(mktemp -d)}"
mkdir -p "$render_dir"
[ -n "$out_dir" ] || trap 'rm -rf "$render_dir"' EXIT

failures=()
step() { # name command...
  local name="$1"
  shift
  local output
  if output="$("$@" 2>&1)"; then
    log "ok    $name"
  else
    log "FAIL  $name"
    # kube-score's ci format lists every passing check too: only what failed.
    printf '%s\n' "$output" | grep -v '^\[OK\]\|^\[SKIPPED\]' | sed 's/^/    /' >&2
    failures+=("$name")
  fi
}

cd "$CHART"
files=(values.yaml)
for f in values-*.yaml; do [ -e "$f" ] && files+=("$f"); done
for f in "${files[@]}"; do
  rendered="$render_dir/$f"
  step "$f: helm lint --strict" "$HELM" lint --strict --kube-version "$KUBE_VERSION" . -f "$f"
  if "$HELM" template shop . --namespace shop --kube-version "$KUBE_VERSION" -f "$f" >"$rendered" 2>"$rendered.err"; then
    log "ok    $f: helm template ($(grep -c '^kind:' "$rendered") objects)"
    rm -f "$rendered.err"
  else
    log "FAIL  $f: helm template"
    sed 's/^/    /' "$rendered.err" >&2
    failures+=("$f: helm template")
    continue
  fi
  step "$f: kubernetes-validate --strict (Kubernetes $KUBE_VERSION)" validate "$rendered"
  # shellcheck disable=SC2046
  step "$f: kube-score" "$KUBE_SCORE" score "${KUBE_SCORE_FLAGS[@]}" $(kube_score_extra "$f") "$rendered"
done

if [ ${#failures[@]} -gt 0 ]; then
  log "${#failures[@]} check(s) failed: $(IFS=';'; echo "${failures[*]}")"
  exit 1
fi
log "all checks passed for ${#files[@]} values files"
