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
# uint64 fields decode through proto/uint64.ts instead of BigInt → string → number (see there).
for f in proto/gen/*.ts; do
  grep -q 'longToNumber(reader.uint64())' "$f" || continue
  sed -i -e 's/longToNumber(reader\.uint64())/readUint64(reader)/g' -e '0,/^import /s//import { readUint64 } from "..\/uint64.js";\nimport /' "$f"
done
