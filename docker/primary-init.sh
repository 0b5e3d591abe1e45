#!/bin/sh
# Runs once, on a primary's first start (empty data folder): the official image's entrypoint runs
# every script in /docker-entrypoint-initdb.d against a temporary, socket-only server.
# Creates the role the replicas stream with and lets it connect for replication.
set -eu

replication_user="${REPLICATION_USER:-replicator}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"

# psql variables (:"name", :'value') quote the role name and the password safely.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set repl_user="$replication_user" --set repl_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"repl_user" WITH REPLICATION LOGIN PASSWORD :'repl_password';
SQL

# "samenet": any address on the networks this container is attached to, i.e. the compose network.
# (The entrypoint's own "host all all all" line does not cover replication connections.)
cat >>"$PGDATA/pg_hba.conf" <<HBA

# Streaming replicas (added by docker/primary-init.sh)
host replication "$replication_user" samenet scram-sha-256
HBA
