// @rendorix/eleventy: after each Eleventy build, signs the output folder's image URLs with
// rendorix (`rendorix sign _site`), with rendorix.toml from the project folder. A failed sign
// fails the build. Not in `--serve` or `--watch` runs unless `serve: true` (the dev server's
// pages need no signatures, and each rebuild would re-sign).
//
//   import rendorix from '@rendorix/eleventy';
//   export default function (eleventyConfig) { eleventyConfig.addPlugin(rendorix); }
//
// Options: { command: 'sign' | 'check', config: 'rendorix.toml', args: [], serve: false }.
import { argvOf, runRendorix } from 'rendorix/run';

export default function rendorix(eleventyConfig, options = {}) {
    eleventyConfig.on('eleventy.after', ({ directories, dir, runMode }) => {
        if (runMode && runMode !== 'build' && !options.serve) return;
        const output = directories?.output ?? dir.output;
        runRendorix(argvOf(output, options));
    });
}
