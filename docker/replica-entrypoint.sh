#!/bin/sh
# Entrypoint of a replica: on the first start (no cluster in $PGDATA) it clones the primary with
# pg_basebackup; -R writes standby.signal and primary_conninfo (postgresql.auto.conf), so the server
# starts as a streaming replica. Then it hands over to the image's own entrypoint, which finds an
# existing cluster, skips initdb and the init scripts, and runs postgres as the postgres user.
set -eu

: "${PGDATA:?PGDATA must be set}"
: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
primary_port="${PRIMARY_PORT:-5432}"
replication_user="${REPLICATION_USER:-replicator}"

# Run a command as the postgres user (the container starts as root unless `user:` says otherwise).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then gosu postgres "$@"; else "$@"; fi
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "replica: waiting for $PRIMARY_HOST:$primary_port"
  until pg_isready -q -h "$PRIMARY_HOST" -p "$primary_port" -U "$replication_user" -d postgres; do
    sleep 1
  done

  # Clone into a sibling folder on the same volume and rename it at the end, so an interrupted
  # clone never leaves a half-copied cluster in $PGDATA (a rerun starts over). This needs $PGDATA
  # below the mount point, as with postgres:18 (PGDATA /var/lib/postgresql/18/docker, volume at
  # /var/lib/postgresql).
  staging="$PGDATA.basebackup"
  parent="$(dirname "$PGDATA")"
  mkdir -p "$parent"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$parent"; fi
  rm -rf "$staging"

  echo "replica: cloning $PRIMARY_HOST:$primary_port into $PGDATA"
  PGPASSWORD="$REPLICATION_PASSWORD" as_postgres pg_basebackup \
    -h "$PRIMARY_HOST" -p "$primary_port" -U "$replication_user" \
    -D "$staging" -R -X stream -P

  chmod 0700 "$staging"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$staging"; fi
  rm -rf "$PGDATA"
  mv "$staging" "$PGDATA"
fi

exec docker-entrypoint.sh "$@"
