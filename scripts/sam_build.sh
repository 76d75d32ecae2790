#!/usr/bin/env bash
# `sam build` for real, as a deploy runs it (rust-cargolambda: cargo-lambda, release
# profile), of one function (default UsersListFunction; `all` for every one), then the
# built bootstrap started as Lambda starts it, through the in-repo runtime harness
# (tests/it/lambda_harness.rs) against the local stack. Not part of the test command: a
# release build with fat LTO takes minutes. Figures: bench/SAM_BUILD.md.
#
#   scripts/sam_build.sh [FunctionLogicalId|all]
#
# The functions are arm64. Where the aarch64 standard library cannot be installed (rustup
# cannot reach its server: the case on the machines this was run on), the build is of a
# copy of the template with `Architectures: [x86_64]`, said in the output: everything else
# (cargo-lambda, SAM's build of the template's functions, the bootstrap) is as deployed.
. "$(dirname "$0")/lib.sh"

FUNCTION="${1:-UsersListFunction}"
BUILD="$LOCAL/sam"
ensure_toolchain
ensure_python_tools
if ! "$VENV/bin/cargo-lambda" lambda --version >/dev/null 2>&1; then
  log "installing cargo-lambda (with zig) into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check cargo-lambda==1.9.2
fi
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0

mkdir -p "$BUILD"
TEMPLATE="$ROOT/template.yaml"
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
  || timeout 120 rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
  log "building for arm64, as deployed"
else
  log "the aarch64 standard library cannot be installed here: building for x86_64 instead"
  TEMPLATE="$BUILD/template.x86_64.yaml"
  sed 's/^    Architectures: \[arm64\]/    Architectures: [x86_64]/' "$ROOT/template.yaml" >"$TEMPLATE"
  grep -q '^    Architectures: \[x86_64\]' "$TEMPLATE"
fi

args=(build --template-file "$TEMPLATE" --base-dir "$ROOT" --build-dir "$BUILD/build" --beta-features --no-cached)
[ "$FUNCTION" = all ] || args+=("$FUNCTION")
log "sam ${args[*]}"
start=$(date +%s)
(cd "$ROOT" && sam "${args[@]}")
log "sam build took $(($(date +%s) - start)) s"

[ "$FUNCTION" = all ] && FUNCTION=UsersListFunction
BOOTSTRAP="$BUILD/build/$FUNCTION/bootstrap"
ls -l "$BOOTSTRAP"
command -v file >/dev/null || apt_install file
file "$BOOTSTRAP"

# The harness test drives the bootstrap SAM built instead of the debug binary.
ensure_stack
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export LAMBDA_BOOTSTRAP="$BOOTSTRAP"
# An arm64 bootstrap on another machine runs under qemu's user-mode emulation, with the
# aarch64 C library as its root: the figures are then qemu's, the answers the bootstrap's.
if [ "$(uname -m)" != aarch64 ] && file "$BOOTSTRAP" | grep -q aarch64; then
  command -v qemu-aarch64 >/dev/null || apt_install qemu-user
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || apt_install libc6-arm64-cross
  export LAMBDA_BOOTSTRAP_RUNNER=qemu-aarch64 QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
  log "running the arm64 bootstrap under qemu-aarch64"
fi
(cd "$ROOT" && cargo test --test it -- lambda_harness::a_function_runs_through_init_and_ten_invocations --nocapture)
