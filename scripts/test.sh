#!/usr/bin/env bash
# Runs the whole suite (unit, integration, e2e) and ends with one line `N passed, N failed`
# read from vitest's JSON report; exits non-zero on any failure. Extra arguments go to vitest.
set -uo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp /tmp/shoal-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
code=$?
node -e '
  const fs = require("fs");
  let r;
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("0 passed, 1 failed"); process.exit(1); }
  // A file that fails to load has no assertions; an unhandled error fails the run without a test.
  let failed = r.numFailedTests + (r.testResults ?? []).filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  if (failed === 0 && process.argv[2] !== "0") failed = 1;
  console.log(`${r.numPassedTests} passed, ${failed} failed`);
  process.exit(failed > 0 || r.numPassedTests === 0 ? 1 : 0);
' "$report" "$code" || exit 1
exit $code
