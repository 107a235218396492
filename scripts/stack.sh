#!/usr/bin/env bash
# The real stack without Docker: PostgreSQL 15, MariaDB 10.11, Redis 7, NATS (JetStream),
# Apache Kafka 3.9 (KRaft, single node) and stripe-mock, each on loopback.
#
#   scripts/stack.sh up       install what is missing, start what is not running (idempotent)
#   scripts/stack.sh down     stop what `up` started
#   scripts/stack.sh status   one line per server
#   scripts/stack.sh env      the variables that point the services at this stack (eval "$(... env)")
#   scripts/stack.sh env --test   only the TEST_* variables the test suite reads
#
# Works as root on Debian (apt-get). Elsewhere use Docker: docker compose up -d postgres mariadb redis nats kafka stripe-mock
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-$ROOT/.stack}"
CACHE_DIR="${STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moleculer-shop}"
KAFKA_VERSION="3.9.1"
STRIPE_MOCK_VERSION="v0.203.0"

PG_PORT="${STACK_PG_PORT:-5432}"
MARIADB_PORT="${STACK_MARIADB_PORT:-3306}"
REDIS_PORT="${STACK_REDIS_PORT:-6379}"
NATS_PORT="${STACK_NATS_PORT:-4222}"
KAFKA_PORT="${STACK_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${STACK_KAFKA_CONTROLLER_PORT:-9093}"
STRIPE_PORT="${STACK_STRIPE_PORT:-12111}"

DB_USER=shop
DB_PASSWORD=shop
DATABASES="shop_users shop_products shop_orders shop_payments shop_notifications shop_test"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$2" && return 0
    sleep 0.1
  done
  die "$1 did not open port $2 within $3 s (log: $STACK_DIR/$1/$1.log)"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- installation

pg_bindir() { ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true; }

require_debian_root() {
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    die "installing servers needs root on Debian/Ubuntu (apt-get). Elsewhere run them with Docker:
    docker compose up -d postgres mariadb redis nats kafka stripe-mock
  and point the services at them with the variables of 'scripts/stack.sh env'."
  fi
}

install_packages() {
  local missing=()
  [ -n "$(pg_bindir)" ] || missing+=(postgresql-15)
  command -v mariadbd >/dev/null || command -v mysqld >/dev/null || missing+=(mariadb-server)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v go >/dev/null || [ -x "$CACHE_DIR/bin/stripe-mock" ] || missing+=(golang-go)
  # Not a server: the test suite validates docker-compose.yml with it.
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # Not a server either: promtool checks the alert rules, their unit tests and a live /metrics.
  command -v promtool >/dev/null || missing+=(prometheus)
  [ ${#missing[@]} -eq 0 ] && return 0
  require_debian_root
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packages' own services from starting: this script runs its own.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

install_kafka() {
  local libs="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
  if [ ! -f "$libs/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
    mkdir -p "$libs"
    mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  fi
  echo "$libs"
}

install_stripe_mock() {
  local bin="$CACHE_DIR/bin/stripe-mock"
  if [ ! -x "$bin" ]; then
    log "building stripe-mock $STRIPE_MOCK_VERSION (go install)"
    mkdir -p "$CACHE_DIR/bin"
    GOBIN="$CACHE_DIR/bin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2
  fi
  echo "$bin"
}

# ---------------------------------------------------------------- servers

pg_up() {
  local dir="$STACK_DIR/postgres" bin
  bin="$(pg_bindir)"
  if port_open "$PG_PORT"; then log "postgres already on :$PG_PORT"; return 0; fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  run_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    run_pg "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$dir/initdb.log"
  fi
  # pg_stat_statements: the checkout benchmark counts SQL statements per checkout with it.
  run_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/postgres.log' -w -t 30 -o \"-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c shared_preload_libraries=pg_stat_statements\" start" >/dev/null
  wait_port postgres "$PG_PORT" 30
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  fi
  for db in $DATABASES; do
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
      "${psql[@]}" -c "CREATE DATABASE $db OWNER $DB_USER"
    fi
  done
  log "postgres up on :$PG_PORT"
}

pg_down() {
  local dir="$STACK_DIR/postgres"
  [ -f "$dir/data/postmaster.pid" ] || return 0
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/bash -c "'$(pg_bindir)/pg_ctl' -D '$dir/data' -m fast stop" >/dev/null || true
  else
    "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
  fi
}

mariadb_up() {
  local dir="$STACK_DIR/mariadb"
  if port_open "$MARIADB_PORT"; then log "mariadb already on :$MARIADB_PORT"; return 0; fi
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
  fi
  setsid nohup mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --socket="$dir/mariadb.sock" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --pid-file="$dir/mariadb.pid" --log-error="$dir/mariadb.log" \
    --max-connections=300 --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
  wait_port mariadb "$MARIADB_PORT" 60
  local sql="CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD'; GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';"
  for db in $DATABASES; do sql+=" CREATE DATABASE IF NOT EXISTS $db;"; done
  mariadb --no-defaults -uroot --socket="$dir/mariadb.sock" -e "$sql"
  log "mariadb up on :$MARIADB_PORT"
}

mariadb_down() {
  local dir="$STACK_DIR/mariadb"
  pid_alive "$dir/mariadb.pid" || return 0
  mariadb-admin --no-defaults -uroot --socket="$dir/mariadb.sock" shutdown 2>/dev/null || kill "$(cat "$dir/mariadb.pid")"
}

redis_up() {
  local dir="$STACK_DIR/redis"
  if port_open "$REDIS_PORT"; then log "redis already on :$REDIS_PORT"; return 0; fi
  mkdir -p "$dir"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" --dir "$dir" --save "" --appendonly no >/dev/null
  wait_port redis "$REDIS_PORT" 10
  log "redis up on :$REDIS_PORT"
}

nats_up() {
  local dir="$STACK_DIR/nats"
  if port_open "$NATS_PORT"; then log "nats already on :$NATS_PORT"; return 0; fi
  mkdir -p "$dir"
  setsid nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$dir/jetstream" -P "$dir/nats.pid" -l "$dir/nats.log" >/dev/null 2>&1 &
  wait_port nats "$NATS_PORT" 10
  log "nats up on :$NATS_PORT (JetStream on)"
}

kafka_up() {
  local dir="$STACK_DIR/kafka" libs
  if port_open "$KAFKA_PORT"; then log "kafka already on :$KAFKA_PORT"; return 0; fi
  libs="$(install_kafka)"
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
EOF
  local java=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$libs/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("${java[@]}" kafka.tools.StorageTool random-uuid)"
    "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log"
  fi
  setsid nohup "${java[@]}" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/kafka.pid"
  wait_port kafka "$KAFKA_PORT" 90
  log "kafka $KAFKA_VERSION up on :$KAFKA_PORT (KRaft)"
}

stripe_up() {
  local dir="$STACK_DIR/stripe-mock" bin
  if port_open "$STRIPE_PORT"; then log "stripe-mock already on :$STRIPE_PORT"; return 0; fi
  bin="$(install_stripe_mock)"
  mkdir -p "$dir"
  setsid nohup "$bin" -http-addr "127.0.0.1:$STRIPE_PORT" -https-addr "127.0.0.1:$((STRIPE_PORT + 1))" >"$dir/stripe-mock.log" 2>&1 &
  echo $! >"$dir/stripe-mock.pid"
  wait_port stripe-mock "$STRIPE_PORT" 20
  log "stripe-mock up on :$STRIPE_PORT"
}

stop_pidfile() { # name pidfile
  pid_alive "$2" || return 0
  local pid
  pid="$(cat "$2")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$2"; return 0; }; sleep 0.1; done
  log "$1 did not stop in 10 s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$2"
}

# ---------------------------------------------------------------- commands

cmd_env() {
  local pg="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT"
  local maria="mariadb://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_PORT"
  # --test: only the TEST_* variables the test suite reads, so embedded tests stay embedded.
  if [ "${1:-}" != --test ]; then
    cat <<EOF
export TRANSPORTER=nats://127.0.0.1:$NATS_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export USERS_DB_URL=$pg/shop_users
export PRODUCTS_DB_URL=$pg/shop_products
export ORDERS_DB_URL=$pg/shop_orders
export PAYMENTS_DB_URL=$maria/shop_payments
export NOTIFICATIONS_DB_URL=$pg/shop_notifications
export STRIPE_API_BASE=http://127.0.0.1:$STRIPE_PORT
export STRIPE_SECRET_KEY=sk_test_stack
EOF
  fi
  cat <<EOF
export TEST_POSTGRES_URL=$pg/shop_test
export TEST_MARIADB_URL=$maria/shop_test
export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export TEST_NATS_URL=nats://127.0.0.1:$NATS_PORT
export TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export TEST_STRIPE_API_BASE=http://127.0.0.1:$STRIPE_PORT
EOF
}

cmd_status() {
  local name port
  for pair in postgres:$PG_PORT mariadb:$MARIADB_PORT redis:$REDIS_PORT nats:$NATS_PORT kafka:$KAFKA_PORT stripe-mock:$STRIPE_PORT; do
    name="${pair%%:*}" port="${pair##*:}"
    if port_open "$port"; then printf '%-12s up    127.0.0.1:%s\n' "$name" "$port"; else printf '%-12s down  127.0.0.1:%s\n' "$name" "$port"; fi
  done
}

cmd_up() {
  install_packages
  mkdir -p "$STACK_DIR" "$CACHE_DIR"
  # Kafka and stripe-mock fetch and build in the background while the databases start.
  kafka_up &
  local kafka_job=$!
  stripe_up &
  local stripe_job=$!
  pg_up
  mariadb_up
  redis_up
  nats_up
  wait "$kafka_job" || die "kafka failed to start (see $STACK_DIR/kafka/)"
  wait "$stripe_job" || die "stripe-mock failed to start (see $STACK_DIR/stripe-mock/)"
  cmd_status
}

cmd_down() {
  stop_pidfile stripe-mock "$STACK_DIR/stripe-mock/stripe-mock.pid"
  stop_pidfile kafka "$STACK_DIR/kafka/kafka.pid"
  stop_pidfile nats "$STACK_DIR/nats/nats.pid"
  stop_pidfile redis "$STACK_DIR/redis/redis.pid"
  mariadb_down
  pg_down
  log "stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env "${2:-}" ;;
  # One Kafka on its own (STACK_DIR, STACK_KAFKA_PORT, STACK_KAFKA_CONTROLLER_PORT): the outage test
  # stops and restarts a Kafka of its own without touching the shared one.
  kafka-up) mkdir -p "$STACK_DIR" "$CACHE_DIR"; kafka_up ;;
  kafka-down) stop_pidfile kafka "$STACK_DIR/kafka/kafka.pid" ;;
  *) echo "usage: $0 up|down|status|env [--test]|kafka-up|kafka-down" >&2; exit 2 ;;
esac
