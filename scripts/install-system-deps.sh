#!/usr/bin/env bash
# System packages the embedded stack needs, installed only when missing (Debian/Ubuntu).
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v python3 >/dev/null || need+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The agency console's browser tests drive Debian's Chromium (Playwright never downloads one).
[ -x /usr/bin/chromium ] || need+=(chromium)
# The clock-skew test runs a consent replica under libfaketime (its wall clock 10 minutes behind).
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(faketime)
# tests/integration/test_kafka_clients.py reads the events with kcat as a contract system would (Debian's kcat
# links librdkafka 2.0.2, too old for Tansu's ApiVersions reply: the test runs it on confluent-kafka's librdkafka).
command -v kcat >/dev/null || need+=(kcat)
# tests/unit/test_provenance_offline.py counts the network connections C2PA signing and reading make (none).
command -v strace >/dev/null || need+=(strace)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
