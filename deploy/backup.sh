#!/usr/bin/env bash
# Backs up the passnum database named by DATABASE_URL into a new file in DIR (default: .):
#   SQLite      passnum backup --to DIR/passnum-<UTC time>.db   (online, consistent: VACUUM INTO)
#   PostgreSQL  pg_dump -Fc -> DIR/passnum-<UTC time>.dump      (online, consistent snapshot)
# Prints the file written as its last line. The signing keys are NOT in the database: back up
# PASSNUM_KEYS_FILE separately (without them, no issued cheque verifies).
# PASSNUM_BIN names the passnum binary (default: passnum on PATH).
set -euo pipefail
dir=${1:-.}
url=${DATABASE_URL:-sqlite://passnum.db}
passnum=${PASSNUM_BIN:-passnum}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dir"
umask 077
case "$url" in
  sqlite:*)
    out="$dir/passnum-$stamp.db"
    DATABASE_URL="$url" "$passnum" backup --to "$out" >&2
    ;;
  postgres://* | postgresql://*)
    out="$dir/passnum-$stamp.dump"
    pg_dump --format=custom --no-owner --no-privileges --dbname="$url" --file="$out"
    ;;
  *)
    echo "DATABASE_URL must start with sqlite:// or postgres://" >&2
    exit 2
    ;;
esac
echo "$out"
