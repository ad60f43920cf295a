#!/usr/bin/env node
// The handlerton command: runs the compiled CLI (built by `npm ci` / `tsc -b`).
import "../dist/src/cli/main.js";
