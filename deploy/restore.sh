#!/usr/bin/env bash
# Restores a backup made by backup.sh into the EMPTY database named by DATABASE_URL, then runs
# `passnum ledger verify` on it (non-zero exit if the ledger does not balance):
#   SQLite      the file is copied to the database path, which must not exist yet
#   PostgreSQL  pg_restore into an existing, empty database (createdb first)
# Stop the server first; restore the signing keys file from its own backup.
# PASSNUM_BIN names the passnum binary (default: passnum on PATH).
set -euo pipefail
backup=${1:?usage: restore.sh BACKUP_FILE (DATABASE_URL names the empty target database)}
url=${DATABASE_URL:?DATABASE_URL must name the database to restore into}
passnum=${PASSNUM_BIN:-passnum}
[ -f "$backup" ] || { echo "no such backup file: $backup" >&2; exit 2; }
case "$url" in
  sqlite:*)
    path=${url#sqlite:}
    path=${path#//}
    path=${path%%\?*}
    if [ -e "$path" ]; then
      echo "$path already exists: restore into a new file, then swap it in" >&2
      exit 2
    fi
    mkdir -p "$(dirname "$path")"
    cp "$backup" "$path.restoring"
    mv "$path.restoring" "$path"
    ;;
  postgres://* | postgresql://*)
    tables=$(psql --dbname="$url" -Atc \
      "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
    if [ "$tables" != "0" ]; then
      echo "the target database is not empty ($tables tables): restore into a fresh one" >&2
      exit 2
    fi
    pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
      --dbname="$url" "$backup"
    ;;
  *)
    echo "DATABASE_URL must start with sqlite:// or postgres://" >&2
    exit 2
    ;;
esac
DATABASE_URL="$url" "$passnum" ledger verify
