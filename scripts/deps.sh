#!/bin/sh
# Install profd's build and test dependencies from Debian's archive.
# Idempotent: does nothing when every package is already installed.
set -eu

# Build: compilers, BPF tools, the libraries' -dev packages.
# Demo and tests: systemd (systemd-analyze verify), golang-go (go tool pprof,
# the Go workload), binutils (readelf, addr2line -i as the independent
# symbolizer), python3 (e2e runner), curl (raw HTTP requests), strace (the
# injection test), util-linux (setpriv, unshare), procps, linux-perf (bench),
# mmdebstrap and systemd-container (tests/systemd boots a real systemd in a
# container), ca-certificates (mmdebstrap fetches over https where configured),
# graphviz (the graph views of go tool pprof -http), debuginfod (a real
# server for the debuginfod tests), dwz (debug files compressed as Debian's
# -dbgsym are), nodejs (JIT frames through perf maps); for the fleet tests
# protobuf-compiler and python3-protobuf (the push receiver is generated
# from proto/push.proto at test time) and prometheus (promtool check
# metrics on GET /metrics), openssl (a self-signed certificate for the TLS
# listener test; the HTTPS debuginfod test's CA and certificates), iproute2
# (ip: the machine's own address for it) and python3-yaml (README's
# parca.yaml is parsed),
# bpftrace (bench/offcpu: the peer doing sched_switch + ustack).
PKGS="clang llvm make gcc g++ binutils pkg-config libbpf-dev bpftool libelf-dev
libdw-dev elfutils libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev libgnutls28-dev
libcurl4-openssl-dev zlib1g-dev libsystemd-dev systemd golang-go linux-perf
procps util-linux python3 curl strace mmdebstrap systemd-container
ca-certificates graphviz libclang-rt-14-dev debuginfod dwz nodejs
protobuf-compiler python3-protobuf prometheus bpftrace openssl iproute2 python3-yaml"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root: make deps)" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# Only promtool is wanted from prometheus: the server its package enables
# and starts (listening on :9090) is stopped and disabled again, when this
# script is what installed it.
case " $missing " in
*" prometheus "*)
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	fi
	;;
esac
