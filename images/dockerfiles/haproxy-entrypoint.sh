#!/bin/sh
# kind's haproxy config asks for maxconn 100000, which needs ~200k file descriptors. Where the hard
# limit is lower and cannot be raised (no CAP_SYS_RESOURCE), cap connections to what it allows.
# exec, so haproxy is PID 1: kind reloads it with SIGHUP.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 200100 ]; then
  set -- -n $(((hard - 100) / 2)) "$@"
fi
exec haproxy -W -db "$@" -f /usr/local/etc/haproxy/haproxy.cfg
