// npm-package.test.mjs - the client as the npm package mte-relay-client, used
// the way an app uses it: `make client-pack` packs it from freshly built
// files, a throwaway app in a temporary folder installs the tarball with npm,
// TypeScript checks the app against the package's typings, esbuild and Vite
// each build the app, a small static server serves the builds (and a page
// with the package's script-tag bundle), and Chromium logs in through the
// real relay and the demo upstream from each.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import http from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { launchBrowser, newPage, screenshot, startStack, ROOT } from './lib.mjs';

const run = promisify(execFile);
const VERSION = /^VERSION\s*:=\s*(\S+)/m.exec(readFileSync(join(ROOT, 'Makefile'), 'utf8'))[1];
const NAME = 'mte-relay-client';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let tmp; let tgz; let app; let browser;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mte-npm-'));
  await run('make', ['--no-print-directory', '-s', 'client-pack', `NPM_DIR=${join(tmp, 'npm')}`], { cwd: ROOT });
  tgz = join(tmp, 'npm', `${NAME}-${VERSION}.tgz`);
  app = join(tmp, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'npm-package-test-app', private: true, type: 'module' }));
  // The cache that the project's own `npm ci` filled has @noble; the registry is the fallback.
  await run('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, timeout: 300000 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('make client-pack: the tarball holds the freshly built package, its version the relay\'s', async () => {
  const { stdout } = await run('tar', ['-tzf', tgz]);
  assert.deepEqual(stdout.trim().split('\n').sort(), [
    'package/README.md', 'package/dist/index.d.ts', 'package/dist/index.js',
    'package/dist/mte-relay-client.d.ts', 'package/dist/mte-relay-client.js', 'package/package.json',
  ]);
  const installed = join(app, 'node_modules', NAME);
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, NAME);
  assert.equal(pkg.version, VERSION);
  assert.equal(pkg.private, undefined);
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.scripts, undefined, 'the source folder\'s guard script is not shipped');
  assert.deepEqual(pkg.exports['.'], { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' });
  assert.equal(pkg.exports['./bundle'].default, './dist/mte-relay-client.js');
  assert.ok(pkg.dependencies['@noble/post-quantum']);
  assert.ok(existsSync(join(app, 'node_modules', '@noble', 'post-quantum', 'package.json')), 'npm installed the dependency');

  const esm = readFileSync(join(installed, 'dist', 'index.js'), 'utf8');
  assert.match(esm, /from "@noble\/post-quantum\/hybrid\.js"/, 'the ES module imports @noble for the app\'s bundler');
  assert.doesNotMatch(esm, /noble-post-quantum - MIT License/, 'and does not carry a copy of it');
  const script = readFileSync(join(installed, 'dist', 'mte-relay-client.js'), 'utf8');
  assert.doesNotMatch(script, /\bimport\b[^(]*from\s*["']/, 'the script-tag bundle imports nothing');
  assert.match(script, /noble-post-quantum - MIT License/, 'it inlines @noble with its licence notice');
  const dts = readFileSync(join(installed, 'dist', 'index.d.ts'), 'utf8');
  assert.doesNotMatch(dts, /declare global/, 'the module typings declare no globals');
  assert.match(readFileSync(join(installed, 'dist', 'mte-relay-client.d.ts'), 'utf8'), /declare global/);
  // Freshly built: the package's module is the build of today's client/src.
  assert.match(esm, /OPTION_CONFLICT/);

  // Guards: a version other than the relay's, and a pack of the source folder, are refused.
  await assert.rejects(run(process.execPath, [join(ROOT, 'client', 'build.mjs'), '--package', join(tmp, 'wrong'), '--version', '9.9.9']),
    (e) => e.code === 1 && /make them equal/.test(e.stderr));
  await assert.rejects(run('npm', ['pack', '--dry-run', '--loglevel=error'], { cwd: join(ROOT, 'client') }),
    (e) => /make client-pack/.test(e.stderr));
});

/** tsc over files in a folder of the app; resolves {code, out}.  checkTypings: also check the package's .d.ts files. */
async function tsc(dir, files, checkTypings) {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'esnext', moduleResolution: 'bundler', strict: true, noEmit: true,
      lib: ['es2022', 'dom'], types: [], skipLibCheck: !checkTypings,
    },
    files,
  }));
  try {
    const { stdout } = await run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { cwd: dir });
    return { code: 0, out: stdout };
  } catch (e) {
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

test('TypeScript: the installed package type-checks, Eclypses option names included; a misspelt option and an unimported global do not', async () => {
  const dir = join(app, 'types');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'good.ts'), `
import { initMteRelayClient, mteFetch, MteRelayError, ErrorCodes, type MteRelayClientOptions, type MteRelayStorage } from '${NAME}';
const storage: MteRelayStorage = { getItem: async (k) => k, setItem: () => {}, removeItem: async () => {} };
const options: MteRelayClientOptions = {
  relayUrl: 'https://relay.example', pathPrefix: '/relay', numberOfPairs: 2, storage, fetch: (u, i) => fetch(u, i),
  licenseKey: 'k', licenseCompany: 'c', encodeType: 'MKE', mkePoolSize: 5, numberEncoderDecoderPairs: 2,
};
export async function go(): Promise<number> {
  await initMteRelayClient(options);
  try {
    const r = await mteFetch('https://relay.example/api/x', { method: 'POST' }, { encodeUrl: false, useStreaming: false, encodeType: 'MTE', pathPrefix: '/relay' });
    return r.status;
  } catch (e) {
    if (e instanceof MteRelayError && e.code === ErrorCodes.OPTION_CONFLICT) return -1;
    throw e;
  }
}
`);
  writeFileSync(join(dir, 'globals.ts'), `
import type {} from '${NAME}/bundle';
export const p: Promise<Response> = mteFetch('https://relay.example/api/x', undefined, { pathPrefix: '/relay' });
export const e: boolean = new Error() instanceof MteRelayError;
`);
  const good = await tsc(dir, ['good.ts', 'globals.ts'], true);
  assert.equal(good.code, 0, good.out);

  writeFileSync(join(dir, 'bad.ts'), `
import { initMteRelayClient } from '${NAME}';
export const a = initMteRelayClient({ pathPrefx: '/relay' });
export const b = initMteRelayClient({ encodeType: 'AES' });
export const c = mteFetch('https://relay.example/api/x');
`);
  const bad = await tsc(dir, ['bad.ts'], false);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /pathPrefx/);
  assert.match(bad.out, /"AES"/);
  assert.match(bad.out, /Cannot find name 'mteFetch'/, 'importing the module declares no globals');
});

const LOGIN_JS = `
  const relay = new URLSearchParams(location.search).get('relay');
  await initMteRelayClient({ relayUrl: relay, numberOfPairs: 2 });
  const res = await mteFetch(relay + '/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'npm-user@example.com', password: 'correct horse battery' }),
  });
  return { status: res.status, body: await res.json() };
`;

function showResult(fn) {
  return `
const out = document.getElementById('result');
(${fn})().then(
  (r) => { out.textContent = JSON.stringify(r, null, 2); out.dataset.state = 'success'; },
  (e) => { out.textContent = String(e && e.stack || e); out.dataset.code = (e && e.code) || ''; out.dataset.state = 'failure'; });
`;
}

const page = (title, script) => `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1><pre id="result">logging in...</pre>${script}</body></html>
`;

/** The three builds of the app: esbuild, Vite, and the script tag; their folders under app/. */
async function buildApps() {
  writeFileSync(join(app, 'src', 'main.js'), `import { initMteRelayClient, mteFetch } from '${NAME}';
${showResult(`async () => {${LOGIN_JS}}`)}`);

  const esbuild = await import('esbuild');
  const outEsbuild = join(app, 'dist-esbuild');
  const result = await esbuild.build({
    entryPoints: [join(app, 'src', 'main.js')], bundle: true, format: 'esm', minify: true, target: 'es2020',
    outfile: join(outEsbuild, 'main.js'), absWorkingDir: app, metafile: true, logLevel: 'error',
  });
  writeFileSync(join(outEsbuild, 'index.html'), page('esbuild app', '<script type="module" src="./main.js"></script>'));
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.includes(`node_modules/${NAME}/dist/index.js`), inputs.join('\n'));
  assert.ok(inputs.some((i) => i.startsWith('node_modules/@noble/post-quantum/')), 'esbuild took @noble from the app\'s node_modules');

  const vite = await import('vite');
  writeFileSync(join(app, 'index.html'), page('Vite app', '<script type="module" src="./src/main.js"></script>'));
  await vite.build({
    root: app, base: './', configFile: false, logLevel: 'error',
    build: { outDir: 'dist-vite', emptyOutDir: true },
  });
  assert.ok(existsSync(join(app, 'dist-vite', 'index.html')));

  const outBundle = join(app, 'dist-bundle');
  mkdirSync(outBundle, { recursive: true });
  const bundle = createRequire(join(app, 'package.json')).resolve(`${NAME}/bundle`);
  assert.equal(bundle, join(app, 'node_modules', NAME, 'dist', 'mte-relay-client.js'), 'the ./bundle export');
  copyFileSync(bundle, join(outBundle, 'mte-relay-client.js'));
  writeFileSync(join(outBundle, 'index.html'), page('script-tag app',
    `<script src="./mte-relay-client.js"></script><script>${showResult(`async () => {${LOGIN_JS}}`)}</script>`));
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves app/ read-only: /esbuild/..., /vite/..., /bundle/... from the dist folders. */
async function startStatic(base) {
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const m = /^\/(esbuild|vite|bundle)\/(.*)$/.exec(path);
    const dir = m ? join(base, `dist-${m[1]}`) : null;
    const file = dir ? resolve(dir, m[2] || 'index.html') : null;
    if (!file || !file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404); res.end(); return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

const PROTECTED_OK = 'mte_relay_requests_total{route="protected",status="200"}';

async function protectedCount(relayUrl) {
  const text = await (await fetch(`${relayUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${PROTECTED_OK} `));
  return line ? Number(line.slice(PROTECTED_OK.length + 1)) : 0;
}

/** The count once it reached want (it lands just after the response); bounded tries. */
async function protectedCountReaching(relayUrl, want) {
  let n = await protectedCount(relayUrl);
  for (let i = 0; i < 100 && n < want; i++) {
    await new Promise((r) => setTimeout(r, 20));
    n = await protectedCount(relayUrl);
  }
  return n;
}

test('apps built with esbuild and with Vite, and the script-tag bundle, log in through the real relay in Chromium', async () => {
  await buildApps();
  const site = await startStatic(app);
  const stack = await startStack({ env: { CORS_ORIGINS: site.origin, METRICS: 'true' } });
  try {
    let count = await protectedCount(stack.relay.url);
    for (const kind of ['esbuild', 'vite', 'bundle']) {
      const p = await newPage(browser);
      try {
        await p.goto(`${site.origin}/${kind}/index.html?relay=${encodeURIComponent(stack.relay.url)}`);
        await p.waitForSelector('#result[data-state]', { timeout: 60000 });
        const state = await p.$eval('#result', (e) => e.dataset.state);
        const text = await p.$eval('#result', (e) => e.textContent);
        await screenshot(p, `npm-package-${kind}.png`);
        assert.equal(state, 'success', `${kind}: ${text}`);
        const r = JSON.parse(text);
        assert.equal(r.status, 200, kind);
        assert.equal(r.body.ok, true);
        assert.equal(r.body.greeting, 'Hello, npm-user@example.com! The demo upstream received your login.');
        assert.equal(r.body.passwordReceived, true);
        assert.equal(r.body.youSent.password, undefined);
        assert.deepEqual(p.errors, [], kind);
      } finally {
        await p.context().close();
      }
      const now = await protectedCountReaching(stack.relay.url, count + 1);
      assert.equal(now, count + 1, `${kind}: the relay counted exactly one protected request`);
      count = now;
    }
  } finally {
    await stack.stop();
    await site.stop();
  }
});
