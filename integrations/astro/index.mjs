// @rendorix/astro: after `astro build`, signs the built site's image URLs with rendorix
// (`rendorix sign DIST`), with rendorix.toml from the project folder. A failed sign fails the
// build. Static output only: pages rendered on request are not in the build's folder.
//
//   import rendorix from '@rendorix/astro';
//   export default defineConfig({ integrations: [rendorix()] });
//
// Options: { command: 'sign' | 'check', config: 'rendorix.toml', args: [] }.
import { fileURLToPath } from 'node:url';
import { argvOf, runRendorix } from 'rendorix/run';

export default function rendorix(options = {}) {
    return {
        name: '@rendorix/astro',
        hooks: {
            'astro:build:done': ({ dir, logger }) => {
                const argv = argvOf(fileURLToPath(dir), options);
                logger.info(`rendorix ${argv.join(' ')}`);
                runRendorix(argv);
            },
        },
    };
}
