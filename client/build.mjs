// build.mjs - bundles the client with esbuild (run by `make`):
//   static/mte-relay-client.js   classic script (IIFE): globals mteFetch, initMteRelayClient
//   static/mte-relay-client.mjs  ES module exporting both
//   static/mte-relay-client.d.ts typings (client/types.d.ts)
// The outputs contain third-party code (@noble) and are never committed.

import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const out = join(root, 'static');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('client/build.mjs: esbuild is not installed; run `sh scripts/setup.sh` (npm ci) first');
  process.exit(1);
}

const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const noble = JSON.parse(await readFile(join(root, 'node_modules/@noble/post-quantum/package.json'), 'utf8'));
const banner = `/*! mte-relay client ${pkg.version}: mteFetch() through an mte-relay; bundles @noble/post-quantum ${noble.version} (MIT) */`;

const common = {
  bundle: true,
  minify: true,
  target: ['es2020', 'chrome90', 'firefox90', 'safari15', 'node20'],
  platform: 'neutral',
  mainFields: ['module', 'main'],
  legalComments: 'eof', // keeps the MIT notices of the bundled @noble packages
  banner: { js: banner },
  logLevel: 'warning',
};

await mkdir(out, { recursive: true });
await esbuild.build({ ...common, entryPoints: [join(here, 'src/index.js')], format: 'esm', outfile: join(out, 'mte-relay-client.mjs') });
await esbuild.build({ ...common, entryPoints: [join(here, 'src/global.js')], format: 'iife', outfile: join(out, 'mte-relay-client.js') });
await copyFile(join(here, 'types.d.ts'), join(out, 'mte-relay-client.d.ts'));

for (const f of ['mte-relay-client.js', 'mte-relay-client.mjs', 'mte-relay-client.d.ts']) {
  console.log(`client: static/${f} ${(await stat(join(out, f))).size} bytes`);
}
