// build.mjs - bundles the client with esbuild.
//
// `node client/build.mjs` (run by `make`) writes what the relay embeds:
//   static/mte-relay-client.js   classic script (IIFE): globals mteFetch, initMteRelayClient
//   static/mte-relay-client.mjs  ES module exporting both
//   static/mte-relay-client.d.ts typings (client/types.d.ts)
//
// `node client/build.mjs --package DIR [--version V]` (run by `make
// client-pack`) lays out the npm package mte-relay-client in DIR, ready for
// `npm pack`:
//   package.json                 client/package.json without its scripts
//   README.md                    client/README.md
//   dist/index.js                ES module for bundlers; imports @noble/post-quantum
//   dist/index.d.ts              its typings (types.d.ts without the globals)
//   dist/mte-relay-client.js     classic script, @noble inlined (as static/)
//   dist/mte-relay-client.d.ts   typings with the globals of the classic script
// --version: refuse when client/package.json has another version (the relay's).
//
// The outputs contain third-party code (@noble) and are never committed.

import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
// Where types.d.ts turns from the module's typings to the classic script's globals.
const GLOBALS_MARK = '// ---- classic-script globals';
const NOBLE_EXTERNAL = ['@noble/post-quantum', '@noble/post-quantum/*'];

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('client/build.mjs: esbuild is not installed; run `sh scripts/setup.sh` (npm ci) first');
  process.exit(1);
}

const readJson = async (p) => JSON.parse(await readFile(p, 'utf8'));
const noble = await readJson(join(root, 'node_modules/@noble/post-quantum/package.json'));

const common = {
  bundle: true,
  target: ['es2020', 'chrome90', 'firefox90', 'safari15', 'node20'],
  platform: 'neutral',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};
// Self-contained: @noble inlined, minified, its MIT notices kept.
const standalone = { ...common, minify: true, legalComments: 'eof' };

function standaloneBanner(name, version) {
  return { js: `/*! ${name} ${version}: mteFetch() through an mte-relay; bundles @noble/post-quantum ${noble.version} (MIT) */` };
}

async function report(dir, files) {
  for (const f of files) console.log(`client: ${join(dir, f)} ${(await stat(join(root, dir, f))).size} bytes`);
}

async function buildStatic() {
  const pkg = await readJson(join(root, 'package.json'));
  const out = join(root, 'static');
  const banner = standaloneBanner('mte-relay client', pkg.version);
  await mkdir(out, { recursive: true });
  await esbuild.build({ ...standalone, banner, entryPoints: [join(here, 'src/index.js')], format: 'esm', outfile: join(out, 'mte-relay-client.mjs') });
  await esbuild.build({ ...standalone, banner, entryPoints: [join(here, 'src/global.js')], format: 'iife', outfile: join(out, 'mte-relay-client.js') });
  await copyFile(join(here, 'types.d.ts'), join(out, 'mte-relay-client.d.ts'));
  await report('static', ['mte-relay-client.js', 'mte-relay-client.mjs', 'mte-relay-client.d.ts']);
}

async function buildPackage(dir, wantVersion) {
  const pkg = await readJson(join(here, 'package.json'));
  if (wantVersion && pkg.version !== wantVersion) {
    console.error(`client/build.mjs: client/package.json has version ${pkg.version}, the relay (Makefile VERSION) ${wantVersion}; make them equal`);
    process.exit(1);
  }
  const types = await readFile(join(here, 'types.d.ts'), 'utf8');
  const mark = types.indexOf(GLOBALS_MARK);
  if (mark < 0) {
    console.error(`client/build.mjs: client/types.d.ts has no "${GLOBALS_MARK}" line`);
    process.exit(1);
  }
  // A fresh folder: nothing of an earlier build can end up in the tarball.
  await rm(dir, { recursive: true, force: true });
  const dist = join(dir, 'dist');
  await mkdir(dist, { recursive: true });

  // For bundlers: one readable ES module; @noble/post-quantum stays an import,
  // so the app's bundler resolves it (one copy, deduplicated, its own licence).
  await esbuild.build({
    ...common,
    entryPoints: [join(here, 'src/index.js')],
    format: 'esm',
    external: NOBLE_EXTERNAL,
    banner: { js: `/*! ${pkg.name} ${pkg.version}: mteFetch() through an mte-relay */` },
    outfile: join(dist, 'index.js'),
  });
  // For a script tag there is no bundler: everything inlined.
  await esbuild.build({
    ...standalone,
    banner: standaloneBanner(pkg.name, pkg.version),
    entryPoints: [join(here, 'src/global.js')],
    format: 'iife',
    outfile: join(dist, 'mte-relay-client.js'),
  });
  await writeFile(join(dist, 'index.d.ts'), types.slice(0, mark).trimEnd() + '\n');
  await writeFile(join(dist, 'mte-relay-client.d.ts'), types);

  // Lifecycle scripts are for this source folder (they refuse a pack from it).
  const { scripts: _scripts, ...shipped } = pkg;
  await writeFile(join(dir, 'package.json'), JSON.stringify(shipped, null, 2) + '\n');
  await copyFile(join(here, 'README.md'), join(dir, 'README.md'));
  const rel = dir.startsWith(root + '/') ? dir.slice(root.length + 1) : dir;
  for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/mte-relay-client.js', 'dist/mte-relay-client.d.ts']) {
    console.log(`client: ${join(rel, f)} ${(await stat(join(dir, f))).size} bytes`);
  }
}

const args = process.argv.slice(2);
const at = args.indexOf('--package');
if (at >= 0) {
  if (!args[at + 1]) {
    console.error('usage: node client/build.mjs [--package DIR [--version V]]');
    process.exit(64);
  }
  const v = args.indexOf('--version');
  await buildPackage(resolve(args[at + 1]), v >= 0 ? args[v + 1] : undefined);
} else {
  await buildStatic();
}
