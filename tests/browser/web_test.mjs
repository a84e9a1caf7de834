// End-to-end test of the bundled web client in headless Chromium: two users in two browser
// contexts chat through a real parleyd. Prints "N passed, N failed" and exits 0 only if every
// check passed.
//
//   node web_test.mjs [PARLEYD] [--serve-web] [--fake-files] [--keep]
//
// PARLEYD defaults to ../../build/parleyd (relative to this file). The page is loaded from
// parleyd itself (GET /). Development options: --serve-web serves ../../web from this process
// and forwards /ws and /v1 to parleyd (dev_server.mjs), for work on the page before parleyd
// serves it; --fake-files also answers /v1/files from memory there; --keep keeps the data dir.
// Screenshots go to ./artifacts/.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { startDevServer } from './dev_server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WAIT_MS = 15000;          // bound of every single wait
const CHECK_MS = 40000;         // bound of one whole check
const WATCHDOG_MS = 110000;     // bound of the whole run
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

const argv = process.argv.slice(2);
const flags = new Set(argv.filter((a) => a.startsWith('--')));
const positional = argv.filter((a) => !a.startsWith('--'));
const PARLEYD = path.resolve(positional[0] || path.join(HERE, '..', '..', 'build', 'parleyd'));
const ARTIFACTS = path.join(HERE, 'artifacts');

// ---- Small utilities --------------------------------------------------------------------------

// With --tap (how meson runs it) the results are TAP lines and everything else a TAP comment.
const TAP = flags.has('--tap');

function log(...parts) {
  const line = [`[${(performance.now() / 1000).toFixed(1).padStart(5)}s]`, ...parts].join(' ');
  console.log(TAP ? line.replace(/^/gm, '# ') : line);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A 48x32 RGB PNG (a colour gradient), built by hand so the test needs no image library.
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // colour type: RGB
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    rows[row] = 0;  // filter: none
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = Math.round((255 * x) / (width - 1));
      rows[row + 2 + x * 3] = Math.round((255 * y) / (height - 1));
      rows[row + 3 + x * 3] = 200;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- parleyd ----------------------------------------------------------------------------------

// Starts parleyd on free ports; resolves to {proc, http, tcp, stderrTail()} once it prints its
// `listening` line.
function startParleyd(dataDir) {
  const proc = spawn(PARLEYD, ['--data-dir', dataDir, '--bind', '127.0.0.1', '--http-port', '0',
    '--tcp-port', '0', '--shards', '2', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = [];
  let pending = '';
  return withTimeout(new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => reject(new Error(`parleyd exited early (${signal || code}): ${lines.slice(-5).join(' | ')}`)));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (text) => {
      pending += text;
      const parts = pending.split('\n');
      pending = parts.pop();
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        const m = /^listening http=(\S+) tcp=(\S+)$/.exec(line);
        if (m) resolve({ proc, http: m[1], tcp: m[2], stderrTail: () => lines.slice(-30).join('\n') });
      }
    });
  }), WAIT_MS, 'parleyd start').catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
}

// SIGTERM, then SIGKILL if it has not exited within 5 s.
async function stopParleyd(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---- Page helpers ----------------------------------------------------------------------------

const ownMsg = (page, text) => page.locator('#msg-list li.msg.own', { hasText: text });

async function waitStatus(page, locator, status) {
  await locator.first().waitFor({ timeout: WAIT_MS });
  await page.waitForFunction(({ el, want }) => el && el.dataset.status === want,
    { el: await locator.first().elementHandle(), want: status }, { timeout: WAIT_MS })
    .catch(async () => {
      const got = await locator.first().getAttribute('data-status').catch(() => '?');
      throw new Error(`message status stayed "${got}", expected "${status}"`);
    });
}

async function waitOnline(page) {
  await page.locator('#conn-status[data-state="online"]').waitFor({ timeout: WAIT_MS });
}

async function waitImageLoaded(page, selector) {
  await page.locator(selector).first().waitFor({ timeout: WAIT_MS });
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: WAIT_MS }).catch(async () => {
    const note = await page.locator('.image.broken').first().textContent({ timeout: 1000 }).catch(() => '');
    throw new Error(`image did not load${note ? `: ${note}` : ''}`);
  });
}

// ---- The test ----------------------------------------------------------------------------------

async function main() {
  const results = [];
  let parleyd = null;
  let dev = null;
  let browser = null;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-web-test-'));
  const pageErrors = [];

  const watchdog = setTimeout(() => {
    console.error(`web_test: gave up after ${WATCHDOG_MS / 1000} s`);
    if (parleyd) parleyd.proc.kill('SIGKILL');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  process.on('exit', () => {
    if (parleyd && parleyd.proc.exitCode === null) parleyd.proc.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (parleyd) parleyd.proc.kill('SIGKILL');
      process.exit(130);
    });
  }

  let pages = {};
  const shoot = async (step) => {
    for (const [who, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${step}-${who}.png`) }).catch(() => {});
    }
  };

  // Runs one named check; `needs` names earlier checks that must have passed for it to make sense.
  const check = async (name, needs, fn) => {
    const missing = needs.filter((n) => !results.find((r) => r.name === n && r.ok));
    if (missing.length) {
      results.push({ name, ok: false, detail: `not run: needs ${missing.join(', ')}` });
      log(`FAIL ${name}: not run (needs ${missing.join(', ')})`);
      return false;
    }
    const started = performance.now();
    try {
      await withTimeout(fn(), CHECK_MS, name);
      results.push({ name, ok: true });
      log(`pass ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      return true;
    } catch (err) {
      results.push({ name, ok: false, detail: err.message.split('\n')[0] });
      log(`FAIL ${name}: ${err.message.split('\n')[0]}`);
      await shoot(`fail-${name.replace(/\W+/g, '-').replace(/^-|-$/g, '')}`);
      return false;
    }
  };

  try {
    rmSync(ARTIFACTS, { recursive: true, force: true });  // screenshots of this run only
    mkdirSync(ARTIFACTS, { recursive: true });
    parleyd = await startParleyd(dataDir);
    log(`parleyd ${PARLEYD} listening http=${parleyd.http}`);
    let base = `http://${parleyd.http}/`;
    if (flags.has('--serve-web')) {
      dev = await startDevServer({
        webDir: path.join(HERE, '..', '..', 'web'), upstream: parleyd.http, fakeFiles: flags.has('--fake-files'),
      });
      base = dev.url;
      log(`serving web/ at ${base}${flags.has('--fake-files') ? ' (fake /v1/files)' : ''}`);
    }

    browser = await withTimeout(chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
      WAIT_MS, 'chromium launch');
    const suffix = Math.random().toString(36).slice(2, 7);
    const alice = `alice_${suffix}`;
    const bob = `bob_${suffix}`;
    const ctxA = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const ctxB = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const pageA = await ctxA.newPage();
    const pageB = await ctxB.newPage();
    pages = { alice: pageA, bob: pageB };
    for (const [who, page] of Object.entries(pages)) {
      page.setDefaultTimeout(WAIT_MS);
      page.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') log(`  (${who} console) ${msg.text()}`);
      });
    }
    const text = `Hello ${bob}, this is ${alice} <b>not bold</b> 👋`;
    const pngPath = path.join(dataDir, 'pixels.png');
    writeFileSync(pngPath, makePng(48, 32));

    await check('page served at /', [], async () => {
      for (const page of [pageA, pageB]) {
        const response = await page.goto(base, { timeout: WAIT_MS });
        if (!response || response.status() !== 200) throw new Error(`GET / answered ${response ? response.status() : 'nothing'}`);
        await page.locator('#auth-form').waitFor({ state: 'visible' });
      }
    });

    await check('register and sign in', ['page served at /'], async () => {
      for (const [page, user] of [[pageA, alice], [pageB, bob]]) {
        await page.fill('#auth-user', user);
        await page.fill('#auth-password', `secret-${user}`);
        await page.click('#register-btn');
        await waitOnline(page);
        const shown = await page.textContent('#me-name');
        if (shown !== user) throw new Error(`sidebar shows "${shown}", expected "${user}"`);
      }
      await shoot('01-registered');
    });

    await check('text arrives live', ['register and sign in'], async () => {
      await pageA.click('#new-chat-btn');
      await pageA.fill('#dialog input[name="user"]', bob);
      await pageA.click('#dialog button[type="submit"]');
      await pageA.locator('#conv-title', { hasText: bob }).waitFor();
      await pageA.fill('#composer-input', text);
      await pageA.press('#composer-input', 'Enter');
      const item = pageB.locator(`#conv-list [data-conv="u:${alice}"]`);
      await item.locator('.conv-preview', { hasText: text }).waitFor();
      const badge = (await item.locator('.badge').textContent()).trim();
      if (badge !== '1') throw new Error(`unread badge shows "${badge}", expected "1"`);
      await waitStatus(pageA, ownMsg(pageA, text), 'delivered');
      await shoot('02-text-delivered');
    });

    await check('read receipt', ['text arrives live'], async () => {
      await pageB.click(`#conv-list [data-conv="u:${alice}"]`);
      const received = pageB.locator('#msg-list li.msg.other', { hasText: text });
      await received.waitFor();
      if (await pageB.locator('#msg-list b').count()) throw new Error('message text was rendered as HTML');
      await waitStatus(pageA, ownMsg(pageA, text), 'read');
      await pageB.locator(`#conv-list [data-conv="u:${alice}"] .badge`).waitFor({ state: 'detached' });
      await shoot('03-text-read');
    });

    await check('typing indicator', ['read receipt'], async () => {
      await pageB.locator('#composer-input').pressSequentially('typing…', { delay: 20 });
      await pageA.locator('#typing', { hasText: `${bob} is typing` }).waitFor();
      await pageB.fill('#composer-input', '');
    });

    await check('image arrives inline', ['read receipt'], async () => {
      await pageA.setInputFiles('#file-input', pngPath);
      const mine = pageA.locator('#msg-list li.msg.own.type-image');
      await mine.first().waitFor();
      const error = await mine.first().locator('.msg-error').textContent({ timeout: 1500 }).catch(() => '');
      if (error) throw new Error(`sender shows: ${error.trim()}`);
      await waitImageLoaded(pageB, '#msg-list li.msg.other.type-image img');
      await waitStatus(pageA, mine, 'read');
      await shoot('04-image-read');
    });

    await check('history after reload', ['read receipt'], async () => {
      await pageB.reload({ timeout: WAIT_MS });
      await waitOnline(pageB);
      const title = pageB.locator('#conv-title', { hasText: alice });
      if (!(await title.isVisible())) await pageB.click(`#conv-list [data-conv="u:${alice}"]`);
      await pageB.locator('#msg-list li.msg.other', { hasText: text }).waitFor();
      const hadImage = results.find((r) => r.name === 'image arrives inline' && r.ok);
      if (hadImage) await waitImageLoaded(pageB, '#msg-list li.msg.other.type-image img');
      else throw new Error('text history is back, but there was no image to check');
      await shoot('05-after-reload');
    });

    await check('no page errors', ['page served at /'], async () => {
      if (pageErrors.length) throw new Error(pageErrors.slice(0, 3).join(' | '));
    });
  } catch (err) {
    results.push({ name: 'setup', ok: false, detail: err.message.split('\n')[0] });
    log(`FAIL setup: ${err.message}`);
  } finally {
    if (browser) await withTimeout(browser.close(), 10000, 'browser close').catch(() => {});
    if (dev) await dev.close().catch(() => {});
    if (parleyd) {
      const failed = results.some((r) => !r.ok);
      await stopParleyd(parleyd.proc);
      if (failed && parleyd.stderrTail()) log(`parleyd stderr (tail):\n${parleyd.stderrTail()}`);
    }
    if (!flags.has('--keep')) rmSync(dataDir, { recursive: true, force: true });
    else log(`data dir kept: ${dataDir}`);
    clearTimeout(watchdog);
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  if (TAP) {
    results.forEach((r, i) => {
      const detail = r.ok ? '' : ` # ${r.detail}`.replace(/\s+/g, ' ');
      console.log(`${r.ok ? 'ok' : 'not ok'} ${i + 1} - ${r.name}${detail}`);
    });
    console.log(`1..${Math.max(results.length, 1)}`);
    if (results.length === 0) console.log('not ok 1 - the test did not start');
  } else {
    for (const r of results.filter((x) => !x.ok)) console.log(`  failed: ${r.name}: ${r.detail}`);
  }
  console.log(`${TAP ? '# ' : ''}${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

await main();
