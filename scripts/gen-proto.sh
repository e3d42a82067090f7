#!/usr/bin/env bash
# Generates TypeScript from proto/*.proto with ts-proto (for @grpc/grpc-js). Output is never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
rm -rf proto/gen && mkdir -p proto/gen
protoc \
  --plugin=protoc-gen-ts_proto=./node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out=proto/gen \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,env=node,forceLong=number,useOptionals=messages,oneof=unions-value \
  -I proto proto/*.proto
