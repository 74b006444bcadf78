// `rendorix/run`: the CLI from JavaScript, for build integrations (@rendorix/astro,
// @rendorix/eleventy). runRendorix runs this package's binary (or RENDORIX_BINARY) with `argv`,
// its output passed through, and throws when it exits non-zero, so that the build fails where
// the site would have been deployed with refused images.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function runRendorix(argv) {
    const bin = fileURLToPath(new URL('./bin/rendorix.js', import.meta.url));
    const result = spawnSync(process.execPath, [bin, ...argv], { stdio: 'inherit' });
    if (result.error) throw new Error(`cannot run rendorix: ${result.error.message}`);
    if (result.status !== 0) {
        throw new Error(`rendorix ${argv[0]} failed (exit ${result.status}): its findings are above`);
    }
}

// `COMMAND SITE [--config FILE] ARGS...` from an integration's options.
export function argvOf(site, { command = 'sign', config, args = [] } = {}) {
    if (!['sign', 'check'].includes(command)) {
        throw new Error(`rendorix: an integration runs "sign" or "check", not "${command}"`);
    }
    return [command, site, ...(config ? ['--config', config] : []), ...args];
}
