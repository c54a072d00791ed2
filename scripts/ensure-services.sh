#!/usr/bin/env bash
# Starts each local server the test suite talks to when it is not already answering.
# The commands are the ones this kind of machine uses at boot; each is a no-op when up.
set -u

up() { # host port
  timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_for() { # name host port
  for _ in $(seq 1 60); do
    if up "$2" "$3"; then return 0; fi
    sleep 0.5
  done
  echo "ensure-services: $1 did not come up on $2:$3" >&2
  return 1
}

status=0
if ! up 127.0.0.1 5432; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_for PostgreSQL 127.0.0.1 5432 || status=1
fi
if ! up 127.0.0.1 6379; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis 127.0.0.1 6379 || status=1
fi
if ! up 127.0.0.1 3306; then
  echo "ensure-services: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for MariaDB 127.0.0.1 3306 || status=1
fi
exit $status
