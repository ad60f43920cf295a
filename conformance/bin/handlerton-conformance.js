#!/usr/bin/env node
// The conformance CLI: runs the compiled runner (built by `npm ci` / `tsc -b`).
import "../dist/src/cli.js";
