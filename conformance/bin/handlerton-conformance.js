#!/usr/bin/env node
// The conformance CLI: runs the compiled runner (built by `npm ci` / `tsc -b`).
import { runFromCommandLine } from "../dist/src/cli.js";

runFromCommandLine();
