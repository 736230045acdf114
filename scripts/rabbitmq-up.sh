#!/usr/bin/env bash
# Install (Debian package) and start a local RabbitMQ for the scale-out tests and a by-hand
# cluster on one machine, with a user and a virtual host of the project's. Prints the URL to
# use as S1ADOPT_BROKER_URL on its last line. Idempotent: safe to run again when RabbitMQ is
# already up. Listens on loopback only.
set -euo pipefail

USER_NAME=s1adopt
PASSWORD=s1adopt
VHOST=s1adopt
PORT=5672

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "RabbitMQ is not installed and this is not root: apt-get install rabbitmq-server" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq rabbitmq-server >&2
fi

CONF=/etc/rabbitmq/rabbitmq.conf
if [ -w /etc/rabbitmq ] && ! grep -qs "^listeners.tcp.default" "$CONF"; then
    {
        echo "listeners.tcp.default = 127.0.0.1:$PORT"
        echo "management.tcp.ip = 127.0.0.1"
    } >>"$CONF"
fi

ENV_CONF=/etc/rabbitmq/rabbitmq-env.conf
if [ -w /etc/rabbitmq ] && ! grep -qs "^ERL_EPMD_ADDRESS" "$ENV_CONF"; then
    {
        echo "ERL_EPMD_ADDRESS=127.0.0.1"
        echo "SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inet_dist_use_interface {127,0,0,1}\""
    } >>"$ENV_CONF"
fi

if ! rabbitmq-diagnostics -q ping -t 5 >/dev/null 2>&1; then
    export ERL_EPMD_ADDRESS=127.0.0.1
    rabbitmq-server -detached >&2
fi
up=""
for _ in $(seq 1 240); do # the node answers only once its VM is up: wait for it
    if rabbitmq-diagnostics -q ping -t 5 >/dev/null 2>&1 &&
        rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1; then
        up=yes
        break
    fi
    sleep 0.5
done
if [ -z "$up" ]; then
    echo "RabbitMQ did not start within 2 minutes; see /var/log/rabbitmq/" >&2
    exit 1
fi

rabbitmqctl -q list_vhosts | grep -qx "$VHOST" || rabbitmqctl -q add_vhost "$VHOST" >&2
rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$USER_NAME" ||
    rabbitmqctl -q add_user "$USER_NAME" "$PASSWORD" >&2
rabbitmqctl -q set_permissions -p "$VHOST" "$USER_NAME" ".*" ".*" ".*" >&2

echo "amqp://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$VHOST"
