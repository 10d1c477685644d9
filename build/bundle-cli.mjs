// Bundles the built CLI (dist/harness/cli/main.js and everything it imports) into that one file: Node then
// loads one module instead of ~1,000 (the API client's generated models are most of them), which takes a
// start from ~1.4 s to ~0.6 s on a 2-core VM. testcontainers stays a package of its own: it loads native
// and optional modules by name at run time.
import { build } from 'esbuild';

const entry = 'dist/harness/cli/main.js';
await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['testcontainers'],
  // less to parse at each start; names stay, so stack traces still read
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies call require(); an ES module has none of its own
  banner: { js: "import { createRequire as __faultlineRequire } from 'node:module'; const require = __faultlineRequire(import.meta.url);" },
  logLevel: 'warning',
});
