// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
// for browser-login tests. Each launch gets a fresh profile directory.
//
//   const b = await launchBrowser();
//   await b.page.goto(nginx.url('/app/'));
//   await devLogin(b.page, { login: 'alice' });       // oidc-provider's dev form
//   ...
//   await b.close();
//
// CHROMIUM_BIN overrides the executable.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];

// opts: args (extra flags), timeout (default 15000 ms per action),
// ignoreHTTPSErrors, contextOptions (passed to launchPersistentContext).
export async function launchBrowser({ args = [], timeout = 15000, ignoreHTTPSErrors = false,
  contextOptions = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-profile-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
      ignoreHTTPSErrors,
      ...contextOptions,
    });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(timeout);
  let closed = false;
  // a browser that dies under a test says so on stderr (CI saw one once:
  // "Target page, context or browser has been closed" with no other trace)
  page.on('crash', () => console.error(`chromium: the page crashed (at ${page.url()})`));
  context.on('close', () => {
    if (!closed) console.error('chromium: the browser went away during the test');
  });
  return {
    context,
    page,
    profileDir: dir,
    async cookies(url) { return context.cookies(url); },
    async close() {
      if (closed) return;
      closed = true;
      try { await context.close(); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    },
  };
}

// Completes oidc-provider's development login + consent forms on `page`,
// which must be showing the login form (/interaction/<uid>). Resolves when
// the browser is at a URL matching `until` (a glob/RegExp/predicate as in
// page.waitForURL), by default any URL outside /interaction/.
export async function devLogin(page, { login = 'alice', password = 'secret', until } = {}) {
  const done = until ?? ((u) => !u.pathname.startsWith('/interaction/'));
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  const consent = 'input[name=prompt][value=consent]';
  const first = await Promise.race([
    page.waitForSelector(consent, { state: 'attached' }).then(() => 'consent', () => 'error'),
    page.waitForURL(done).then(() => 'done', () => 'error'),
  ]);
  if (first === 'consent') {
    await Promise.all([page.waitForURL(done), page.click('button[type=submit]')]);
  } else if (first !== 'done') {
    throw new Error(`devLogin: neither the consent form nor the target URL appeared (at ${page.url()})`);
  }
}
