// Drives Debian's chromium (playwright-core) over Cairn's badge pages and
// verify page for tests/pages.rs, in one browser session, in phases: the
// test changes the world between them (revokes, stops the node, serves the
// exported site) and says so with a line on stdin.
//
//   node tests/interop/pages.mjs CONFIG.json
//
// CONFIG: {"node": URL, "pages": {name: "/b/{share}"}, "claims": {"open",
// "withdrawn": "/claim/{token}"}, "cases": [{"name", "file"}], "shots": DIR}. Each phase prints one JSON line on stdout; the
// time from navigation to verdict goes to stderr (docs/performance.md).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => (await lines.next()).value;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const consoleErrors = [];
async function context(locale) {
  const ctx = await browser.newContext({ locale, viewport: { width: 1000, height: 1400 } });
  ctx.on('page', watch);
  return ctx;
}
function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
}

// Opens `url`, waits for the verdict and reads the panel.
async function verdictOf(page, url, shot, { reload = false } = {}) {
  if (reload) await page.reload();
  else await page.goto(url);
  await page.waitForSelector('#verification[data-verdict]', { timeout: 60_000 });
  const ms = await page.evaluate(() => performance.now());
  // Endorsements are checked after the badge itself.
  await page.waitForFunction(
    () => [...document.querySelectorAll('#endorsements li.endorsement')].every((li) => li.dataset.verdict),
    null,
    { timeout: 60_000 },
  );
  const read = await page.evaluate(() => ({
    verdict: document.querySelector('#verification').dataset.verdict,
    checks: [...document.querySelectorAll('#verification [data-check]')].map((li) => ({
      name: li.dataset.check,
      status: li.dataset.status,
    })),
    lang: document.querySelector('#cairn')?.dataset.lang ?? null,
    htmlLang: document.documentElement.lang,
    panelText: document.querySelector('#verification').textContent,
    text: document.body.innerText,
    ogTitle: document.querySelector('meta[property="og:title"]')?.content ?? null,
    ogImage: document.querySelector('meta[property="og:image"]')?.content ?? null,
    linkedIn: document.querySelector('a[href^="https://www.linkedin.com/profile/add"]')?.href ?? null,
    qr: !!document.querySelector('#cairn svg, #cairn canvas, #cairn img[src^="data:image"]'),
    downloads: [...document.querySelectorAll('a[download]')].map((a) => a.getAttribute('href')),
    endorsements: [...document.querySelectorAll('#endorsements li.endorsement')].map((li) => li.dataset.verdict ?? null),
  }));
  if (shot) await page.screenshot({ path: `${config.shots}/${shot}.png`, fullPage: true });
  return { ...read, ms: Math.round(ms) };
}

const en = await context('en-US');
const fr = await context('fr-FR');
const page = await en.newPage();
const node = config.node;

// Phase 1: the node is up.
const pages = {};
pages.valid = await verdictOf(page, node + config.pages.valid, 'valid-en');
process.stderr.write(`badge page: full verdict ${pages.valid.ms} ms after navigation\n`);
const frPage = await fr.newPage();
pages.validFr = await verdictOf(frPage, node + config.pages.valid, 'valid-fr');
pages.validSwitched = await verdictOf(page, `${node}${config.pages.valid}?lang=fr`, null);
process.stderr.write(`badge page, assets cached: full verdict ${pages.validSwitched.ms} ms after navigation\n`);
pages.expired = await verdictOf(page, node + config.pages.expired, 'expired');
pages.suspended = await verdictOf(page, node + config.pages.suspended, 'suspended');
pages.reinstated = await verdictOf(page, node + config.pages.reinstated, null);
// (Asked outside the page: a 404 in a page is a console error.)
pages.missing = (await fetch(`${node}/b/AAAAAAAAAAAAAAAAAAAAAA`)).status;

// Claim pages: the wallets' links and QR codes, in both languages, and one
// the issuer suspended.
async function claimOf(page, url, shot) {
  await page.goto(url);
  await page.waitForSelector('#claim[data-state]', { timeout: 60_000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll('img')].every((i) => i.complete),
    null,
    { timeout: 60_000 },
  );
  const read = await page.evaluate(() => ({
    state: document.querySelector('#claim').dataset.state,
    lang: document.querySelector('#cairn')?.dataset.lang ?? null,
    name: document.querySelector('#achievement-name')?.textContent ?? null,
    lcwHref: document.querySelector('#lcw-link')?.getAttribute('href') ?? null,
    lcwQr: document.querySelector('#lcw-qr')?.naturalWidth ?? 0,
    offerHref: document.querySelector('#offer-link')?.getAttribute('href') ?? null,
    offerQr: document.querySelector('#offer-qr')?.naturalWidth ?? 0,
    altsOk: [...document.querySelectorAll('img')].every((i) => i.alt),
    downloads: [...document.querySelectorAll('#downloads a[data-download]')].map((a) => a.getAttribute('href')),
    status: document.querySelector('#claim-status')?.textContent ?? '',
  }));
  if (shot) await page.screenshot({ path: `${config.shots}/${shot}.png`, fullPage: true });
  return read;
}
const claims = {
  open: await claimOf(page, node + config.claims.open, 'claim-en'),
  openFr: await claimOf(frPage, node + config.claims.open, 'claim-fr'),
  withdrawn: await claimOf(page, node + config.claims.withdrawn, 'claim-withdrawn'),
};

// The verify page, one file at a time: the same checks as `cairn verify`.
const cases = {};
for (const c of config.cases) {
  await page.goto(`${node}/verify`);
  await page.setInputFiles('input[type=file]', c.file);
  await page.waitForSelector('#verification[data-verdict]', { timeout: 60_000 });
  const read = await page.evaluate(() => ({
    verdict: document.querySelector('#verification').dataset.verdict,
    checks: [...document.querySelectorAll('#verification [data-check]')].map((li) => ({
      name: li.dataset.check,
      status: li.dataset.status,
    })),
  }));
  if (c.name === 'tampered-png') {
    await page.screenshot({ path: `${config.shots}/verify-tampered-png.png`, fullPage: true });
  }
  cases[c.name] = read;
}
say({ phase: 'pages', pages, claims, cases, consoleErrors });

// Phase 2: the test revoked the valid credential.
await nextLine();
const revoked = await verdictOf(page, node + config.pages.valid, 'valid-revoked', { reload: false });
say({ phase: 'revoked', revoked, consoleErrors });

// Phase 3: the node is gone; its exported site is served elsewhere.
const site = (await nextLine()).trim();
const exported = {
  revoked: await verdictOf(page, site + config.pages.valid, 'site-revoked'),
  kept: await verdictOf(page, site + config.pages.kept, 'site-kept'),
};
await page.goto(`${site}/verify`);
await page.setInputFiles('input[type=file]', config.cases.find((c) => c.name === 'reinstated').file);
await page.waitForSelector('#verification[data-verdict]', { timeout: 60_000 });
exported.verifyPage = await page.evaluate(() => document.querySelector('#verification').dataset.verdict);
await page.screenshot({ path: `${config.shots}/site-verify.png`, fullPage: true });
say({ phase: 'site', exported, consoleErrors });
await browser.close();
