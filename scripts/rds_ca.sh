#!/usr/bin/env bash
# Profile=small: downloads the RDS certificate authorities into the layer folder that
# `sam build` packs (deploy/rds-ca-layer/rds-ca/global-bundle.pem; the functions read it as
# DATABASE_CA_FILE). Run it before `sam build` for a small stack; production (through RDS
# Proxy, whose certificate is from a public authority) does not need it.
#
# From AWS's trust store over HTTPS (its certificate checked against the system's roots),
# then checked: every certificate in it must parse, be a CA and be issued to Amazon RDS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/deploy/rds-ca-layer/rds-ca/global-bundle.pem"
URL="${RDS_CA_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

curl --fail --silent --show-error --proto '=https' --tlsv1.2 -o "$tmp/bundle.pem" "$URL"
# One file per certificate, then each checked.
awk -v dir="$tmp" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (dir "/cert-" n ".pem") }' "$tmp/bundle.pem"
count=0
for cert in "$tmp"/cert-*.pem; do
  [ -e "$cert" ] || break
  subject="$(openssl x509 -in "$cert" -noout -subject)"
  case "$subject" in
    *"Amazon RDS"*) ;;
    *) echo "rds_ca.sh: not an Amazon RDS certificate: $subject" >&2; exit 1 ;;
  esac
  openssl x509 -in "$cert" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE' \
    || { echo "rds_ca.sh: not a certificate authority: $subject" >&2; exit 1; }
  count=$((count + 1))
done
[ "$count" -gt 0 ] || { echo "rds_ca.sh: no certificate in $URL" >&2; exit 1; }
install -D -m 0644 "$tmp/bundle.pem" "$DEST"
echo "rds_ca.sh: $count RDS certificate authorities in $DEST"
