#!/usr/bin/env node
// Runs the prebuilt rendorix binary of this platform, installed by npm as one of the optional
// dependencies (@rendorix/<os>-<cpu>), with the arguments, stdio and exit status passed through.
// RENDORIX_BINARY names another binary (a local build, or a platform without a package).
"use strict";

const { spawnSync } = require("node:child_process");
const path = require("node:path");

function binary() {
  if (process.env.RENDORIX_BINARY) return process.env.RENDORIX_BINARY;
  const target = `${process.platform}-${process.arch}`;
  const exe = process.platform === "win32" ? "rendorix.exe" : "rendorix";
  try {
    const manifest = require.resolve(`@rendorix/${target}/package.json`);
    return path.join(path.dirname(manifest), "bin", exe);
  } catch {
    process.stderr.write(
      `error: no prebuilt rendorix for ${target}: the optional package @rendorix/${target} is not installed.\n` +
        "Reinstall without --no-optional (or --omit=optional), or install the binary with\n" +
        "`cargo install --locked rendorix` and set RENDORIX_BINARY to its path.\n",
    );
    process.exit(2);
  }
}

const result = spawnSync(binary(), process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  process.stderr.write(`error: cannot run rendorix: ${result.error.message}\n`);
  process.exit(2);
}
if (result.signal) {
  process.kill(process.pid, result.signal);
}
process.exit(result.status ?? 1);
