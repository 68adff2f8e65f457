#!/usr/bin/env bash
# The ssh backend's tests: Debian's OpenSSH server (the tests start their
# own sshd on loopback, with their own config, host key and authorized
# keys; the system's sshd is never started) and an ordinary user to log in
# as. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s openssh-server >/dev/null 2>&1; then
  apt-get update -qq
  # policy-rc.d: the package must not start the system's sshd.
  had_policy=no; [ -e /usr/sbin/policy-rc.d ] && had_policy=yes
  [ "$had_policy" = yes ] || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq openssh-server >/dev/null
  [ "$had_policy" = yes ] || rm -f /usr/sbin/policy-rc.d
fi
# sshd's privilege separation directory.
mkdir -p /run/sshd && chmod 0755 /run/sshd
# The user the tests log in as: no password, but not locked ('*'), so that
# sshd without PAM takes a key for it.
id moatssh >/dev/null 2>&1 || useradd -m -s /bin/sh -p '*' moatssh
