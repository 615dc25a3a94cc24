// manpage.test.mjs - man/mte-relay.1 lints clean and stays in step with the
// binary's --help / --version and with every #define of src/limits.h.
// MTE_RELAY_BIN overrides the binary (default build/mte-relay).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pagePath = path.join(root, 'man/mte-relay.1');
const bin = process.env.MTE_RELAY_BIN || path.join(root, 'build/mte-relay');
const page = readFileSync(pagePath, 'utf8');

// Page source -> plain text close enough for matching: "\-" is a hyphen,
// font escapes and zero-width/non-breaking escapes vanish or become spaces.
function plain(s) {
  return s
    .replace(/\\-/g, '-')
    .replace(/\\f(\[[A-Za-z]*\]|[BIRP])/g, '')
    .replace(/\\~/g, ' ')
    .replace(/\\&/g, '');
}

// Source lines of one .SH section, up to the next .SH.
function section(name) {
  const lines = page.split('\n');
  const start = lines.findIndex((l) => l === `.SH ${name}` || l === `.SH "${name}"`);
  assert.notEqual(start, -1, `the page has no section ${name}`);
  let end = lines.findIndex((l, i) => i > start && l.startsWith('.SH '));
  if (end === -1) end = lines.length;
  return lines.slice(start + 1, end).join('\n');
}

// The plain text of every tag line (the line after .TP) of a section.
function tagLines(text) {
  const lines = text.split('\n');
  return lines.flatMap((l, i) => (l === '.TP' && i + 1 < lines.length ? [plain(lines[i + 1])] : []));
}

function runBin(args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: {} });
  assert.equal(r.error, undefined, `cannot run ${bin}: ${r.error}`);
  return r;
}

function helpFlags() {
  const r = runBin(['--help']);
  assert.equal(r.status, 0, `${bin} --help exited ${r.status}: ${r.stdout}${r.stderr}`);
  // Each flag starts its own line of --help; prose mentions are not counted.
  const flags = new Map();
  for (const m of r.stdout.matchAll(/^ +(--[a-z][a-z0-9-]*)(\S*)\s+(\S.*)?$/gm)) {
    flags.set(m[1], m[3] || '');
  }
  assert.ok(flags.size >= 30,
    `${bin} --help lists ${flags.size} flags; does main.c call config_load()?\n${r.stdout}`);
  return flags;
}

test('groff -man -ww reports no warning', () => {
  const r = spawnSync('groff', ['-man', '-ww', '-z', pagePath], { encoding: 'utf8' });
  assert.equal(r.error, undefined, `groff: ${r.error}`);
  assert.equal(r.stderr, '', r.stderr);
  assert.equal(r.status, 0);
});

test('the page has every required section', () => {
  for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'BUILT-IN ROUTES',
    'ERROR STATUSES', 'LIMITS', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'SIGNALS',
    'EXAMPLES', 'SECURITY', 'SEE ALSO']) {
    section(s);
  }
  const routes = plain(section('BUILT-IN ROUTES'));
  for (const r of ['GET /api/mte-echo/', 'HEAD /api/mte-relay', 'POST /api/mte-pair',
    'GET /api/mte-errors', 'GET /public/', 'GET /metrics']) {
    assert.ok(routes.includes(r), `BUILT-IN ROUTES lacks ${r}`);
  }
  const statuses = tagLines(section('ERROR STATUSES')).join(' ');
  const codes = [400, 404, 408, 413, 414, 431, 501, 502, 503, 504, 505];
  for (let s = 559; s <= 570; s++) codes.push(s);
  for (const s of codes) {
    assert.match(statuses, new RegExp(`\\b${s}\\b`), `ERROR STATUSES has no entry for ${s}`);
  }
  const exits = tagLines(section('EXIT STATUS'));
  for (const s of ['0', '78', '1']) assert.ok(exits.includes(`.B ${s}`), `EXIT STATUS lacks ${s}`);
});

test('every --help flag is in OPTIONS and every OPTIONS flag is in --help', () => {
  const help = helpFlags();
  const options = plain(section('OPTIONS'));
  const inPage = new Set([...options.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  for (const f of help.keys()) assert.ok(inPage.has(f), `${f} (from --help) is not in OPTIONS`);
  for (const f of inPage) assert.ok(help.has(f), `${f} (in OPTIONS) is not in --help`);
  // Each flag has its own entry (the tag line after .TP), not only a mention.
  const tags = new Set(tagLines(section('OPTIONS'))
    .map((l) => (/--[a-z][a-z0-9-]*/.exec(l) || [''])[0]));
  for (const f of help.keys()) assert.ok(tags.has(f), `${f} has no entry of its own in OPTIONS`);
});

test('every variable named by --help is in OPTIONS and ENVIRONMENT', () => {
  const help = helpFlags();
  const options = plain(section('OPTIONS'));
  const env = plain(section('ENVIRONMENT'));
  for (const [flag, rest] of help) {
    const m = /^([A-Z][A-Z0-9_]*)\b/.exec(rest);
    if (!m) continue;   // actions (--help, --version, --check-config)
    assert.ok(options.includes(m[1]), `${m[1]} (${flag}) is not in OPTIONS`);
    assert.ok(env.includes(m[1]), `${m[1]} (${flag}) is not in ENVIRONMENT`);
  }
});

test('the page names the version the binary prints', () => {
  const r = runBin(['--version']);
  assert.equal(r.status, 0);
  const v = r.stdout.trim();
  assert.match(v, /^mte-relay \S+$/);
  const th = page.split('\n').find((l) => l.startsWith('.TH '));
  assert.ok(th.includes(`"${v}"`), `.TH line ${th} does not name "${v}"`);
});

test('every limit of src/limits.h is documented with its value in LIMITS', () => {
  const header = readFileSync(path.join(root, 'src/limits.h'), 'utf8');
  const limits = section('LIMITS');
  let n = 0;
  for (const m of header.matchAll(/^#define[ \t]+([A-Z][A-Z0-9_]*)[ \t]+(.*)$/gm)) {
    const [, name, rest] = m;
    const value = rest.replace(/\/\*.*$/, '').trim();
    if (value === '') continue;     // include guard
    n++;
    const at = limits.search(new RegExp(`^\\.B ${name}$`, 'm'));
    assert.notEqual(at, -1, `${name} has no entry (.B ${name}) in LIMITS`);
    const after = limits.slice(at).split('\n').slice(1);
    const stop = after.findIndex((l) => /^\.(TP|SS|SH)\b/.test(l));
    const text = plain((stop === -1 ? after : after.slice(0, stop)).join(' '));
    const num = /^(\d+)(?:U?L{0,2})?$/i.exec(value);
    if (num) assert.ok(text.includes(num[1]), `LIMITS gives ${name} without its value ${num[1]}`);
    assert.match(text, /\S/, `${name} has an empty description`);
  }
  assert.ok(n >= 10, `only ${n} limits found in src/limits.h`);
});
