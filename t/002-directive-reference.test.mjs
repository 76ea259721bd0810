// The directive reference in README.md is checked against the module's
// directive tables (the ngx_command_t arrays in the C sources), both ways:
// every directive is documented, and every documented directive exists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './lib/harness.mjs';

const SOURCES = ['ngx_http_oidc_module.c', ...fs.readdirSync(path.join(REPO, 'src'))
  .filter((f) => f.endsWith('.c')).map((f) => `src/${f}`)];

// the names of every ngx_command_t table in the sources
function directives() {
  const names = new Set();
  for (const f of SOURCES) {
    const text = fs.readFileSync(path.join(REPO, f), 'utf8');
    const re = /^(?:static\s+)?ngx_command_t\s+\w+\[\]\s*=\s*\{([\s\S]*?)ngx_null_command/gm;
    for (const m of text.matchAll(re)) {
      for (const d of m[1].matchAll(/\{\s*ngx_string\("([a-z0-9_]+)"\)/g)) names.add(d[1]);
    }
  }
  return names;
}

// README's "## Configuration" section, up to the next "## "
function configuration() {
  const text = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const start = text.indexOf('\n## Configuration');
  assert.ok(start >= 0, 'README has a "## Configuration" section');
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

test('the directive tables are found', () => {
  const names = directives();
  for (const d of ['oidc_provider', 'auth_oidc', 'issuer', 'client_id']) {
    assert.ok(names.has(d), `${d} found in the sources`);
  }
});

test('every directive is documented in README', () => {
  const doc = configuration();
  const missing = [...directives()].filter((d) => !new RegExp(`\`${d}[\` ]`).test(doc));
  assert.deepEqual(missing, [], `directives without documentation in README: ${missing.join(', ')}`);
});

test('every directive in README\'s tables exists', () => {
  const names = directives();
  const unknown = [];
  for (const line of configuration().split('\n')) {
    if (!line.startsWith('| `') || line.startsWith('| `$')) continue;
    const first = line.split('|')[1];
    for (const m of first.matchAll(/`([a-z][a-z0-9_]*)[` ]/g)) {
      if (!names.has(m[1])) unknown.push(m[1]);
    }
  }
  assert.deepEqual(unknown, [], `documented but not in the module: ${unknown.join(', ')}`);
});
