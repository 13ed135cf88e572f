#!/usr/bin/env bash
# Copyright 2026 The dataloader Authors.
#
# Regenerates the throwaway TLS material of tests/server/security_test.cc: a test CA, a server
# certificate for localhost/127.0.0.1/::1 and a client certificate signed by it, and a second,
# unrelated CA with its own client certificate (the "wrong CA" cases). EC P-256 keys, valid
# for 100 years so that the committed files never expire under the tests. For tests only: the
# private keys are public.
#
# Usage: tests/data/tls/make_certs.sh   (needs the openssl CLI; rewrites the files in place)
set -euo pipefail
cd "$(dirname "$0")"
days=36500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# make_ca NAME SUBJECT: NAME.pem and (temporary) NAME.key.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -subj "$2" -keyout "$work/$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}

# make_leaf NAME CA SUBJECT EXTENSIONS: NAME.pem and NAME.key signed by CA.
make_leaf() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$3" \
    -keyout "$1.key" -out "$work/$1.csr" 2>/dev/null
  printf '%s\n' "$4" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$2.pem" -CAkey "$work/$2.key" -CAcreateserial \
    -days "$days" -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}

make_ca ca "/CN=dataloader test CA"
make_ca other_ca "/CN=dataloader other test CA"
make_leaf server ca "/CN=localhost" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
make_leaf client ca "/CN=dataloader test client" \
  "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
make_leaf other_client other_ca "/CN=dataloader other test client" \
  "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
rm -f ./*.srl
echo "make_certs: wrote $(ls ./*.pem ./*.key | tr '\n' ' ')"
