#!/usr/bin/env bash
# Runs checkov on the CloudFormation templates, offline, and fails on any failed check.
# Every finding is either fixed or skipped in the resource's Metadata with its reason
# (checkov: skip: - id, comment). checkov has a venv of its own: its pins conflict with
# the SAM CLI's in .local/venv.
. "$(dirname "$0")/lib.sh"

CHECKOV_VENV="$LOCAL/checkov-venv"
# Pinned: a newer checkov brings new checks, which would fail CI with no change of ours.
CHECKOV_VERSION=3.3.30
if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  log "installing checkov into $CHECKOV_VENV"
  python3 -m venv "$CHECKOV_VENV" 2>/dev/null \
    || { apt_install python3-venv; rm -rf "$CHECKOV_VENV"; python3 -m venv "$CHECKOV_VENV"; }
  "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION"
fi

cd "$ROOT"
status=0
for template in template.yaml deploy/ec2.yaml; do
  log "checkov $template"
  # --skip-download: no calls to the Prisma Cloud API (no policy or guideline downloads).
  # checkov exits 1 when a check fails; it runs every template before this one reports.
  "$CHECKOV_VENV/bin/checkov" -f "$template" --framework cloudformation \
    --skip-download --compact --quiet || status=1
done
exit "$status"
