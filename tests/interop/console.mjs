// Drives Debian's chromium (playwright-core) through the console for
// tests/console.rs, in one browser session: sign in with a one-time link,
// create a badge class with an image (its live preview), upload a roster
// with a bad row, see it by line, upload the fixed file, issue and watch
// the progress bar end, download the result, revoke one credential with a
// reason, view a badge page and download its PNG, then see both counted in
// the analytics; the console at phone width; sign out.
//
//   node tests/interop/console.mjs CONFIG.json
//
// CONFIG: {"link", "image", "badRoster", "goodRoster", "shots"}. Prints one
// JSON report on stdout; the Rust test asserts on it.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const consoleErrors = [];
const ctx = await browser.newContext({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
ctx.on('page', (page) => {
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
  page.on('dialog', (d) => d.accept());
});
const page = await ctx.newPage();
const shot = (name) => page.screenshot({ path: `${config.shots}/${name}.png`, fullPage: true });
const text = async (selector) => (await page.textContent(selector))?.trim() ?? null;
const report = { consoleErrors };

try {
  // Sign in with the one-time link: opening it signs no one in; its button does.
  await page.goto(config.link);
  report.linkPage = await text('main');
  await page.click('#use-link');
  await page.waitForURL(/\/console$/);
  report.signedIn = page.url();
  report.attention = {
    expiring30: await text('#expiring-30'),
    failures: await text('#no-failures'),
  };
  await shot('01-attention');

  // A badge class with an image; the preview follows the typing.
  await page.click('nav >> text=Badge classes');
  await page.click('#new-class');
  await page.fill('[name="name.en"]', 'Infection Control');
  await page.fill('[name="description.en"]', 'Knows and applies the infection control protocol.');
  await page.fill('[name="criteria.en"]', 'Passed the infection control assessment.');
  await page.setInputFiles('#image', config.image);
  await page.selectOption('#achievementType', 'Certificate');
  await page.fill('#validFor', 'P2Y');
  report.preview = {
    name: await text('#preview-name'),
    criteria: await text('#preview-criteria'),
    image: await page.getAttribute('#preview-image', 'src'),
  };
  await shot('02-class-form');
  await page.click('#save-class');
  await page.waitForSelector('text=Saved.');
  report.classUrl = page.url();
  report.classImage = await page.getAttribute('#preview-image', 'src');
  await shot('03-class-saved');

  // A roster with a bad row: the dry run names its line, nothing issued.
  await page.click('nav >> text=Issue to a roster');
  await page.selectOption('#achievement', { label: 'Infection Control' });
  await page.setInputFiles('#file', config.badRoster);
  await page.click('#upload');
  await page.waitForSelector('#dry-summary');
  report.dryRun = {
    summary: await text('#dry-summary'),
    bad: await page.$$eval('#bad-rows tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim()))),
    issueButton: await page.$('#issue') !== null,
    mapping: await page.$eval('#map-recipient', (s) => s.selectedOptions[0]?.textContent),
  };
  await shot('04-dry-run');
  // The fixed file: no bad rows, then issue and watch the bar.
  await page.setInputFiles('#file', config.goodRoster);
  await page.click('#reupload');
  await page.waitForSelector('#issue');
  report.fixed = await text('#dry-summary');
  await page.click('#issue');
  await page.waitForSelector('#progress');
  const rosterUrl = page.url();
  await page.waitForSelector('#job[data-finished="true"]', { timeout: 60_000 });
  report.progress = await page.$eval('#progress', (p) => ({ value: p.value, max: p.max }));
  report.progressText = await text('#progress-text');
  // The bar survives a reload: the node keeps the roster's progress.
  await page.reload();
  await page.waitForSelector('#job[data-finished="true"]');
  report.afterReload = { url: page.url() === rosterUrl, text: await text('#progress-text') };
  await shot('05-roster-issued');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#result-link')]);
  report.result = readFileSync(await download.path(), 'utf8');

  // Find the first earner's credential, open it, revoke it with a reason.
  await page.click('nav >> text=Credentials');
  await page.fill('#q', 'ada@example.org');
  await page.click('#search');
  report.search = await page.$$eval('#results tbody tr', (rows) => rows.length);
  await page.click('#results tbody tr a');
  await page.waitForSelector('#credential-id');
  report.detail = {
    id: await text('#credential-id'),
    status: await text('#status'),
    anchor: await text('#anchor'),
    badgePage: await page.getAttribute('#badge-page', 'href'),
  };
  await page.check('input[name="status"][value="revoked"]');
  await page.fill('#reason', 'Certificate issued in error');
  await page.click('#change-status');
  await page.waitForSelector('#confirm');
  report.confirm = await text('main form');
  await shot('06-confirm-revoke');
  await page.click('#confirm');
  await page.waitForSelector('#credential-id');
  report.revoked = { status: await text('#status'), history: await text('#history') };
  await shot('07-revoked');

  // A reader opens another earner's badge page and downloads its PNG.
  const share = report.result.split('\n')[2].split(',')[4];
  const reader = await ctx.newPage();
  await reader.goto(share);
  await reader.waitForSelector('#verification[data-verdict]', { timeout: 60_000 });
  report.readerVerdict = await reader.getAttribute('#verification', 'data-verdict');
  const [png] = await Promise.all([reader.waitForEvent('download'), reader.click('[data-download="png"]')]);
  report.pngName = png.suggestedFilename();
  await reader.close();

  // The analytics count them (the view, the download, the verification).
  await page.click('nav >> text=Analytics');
  await page.waitForSelector('#totals');
  report.analytics = {
    views: await text('#total-views'),
    downloads: await text('#total-downloads'),
    verifyPage: await text('#total-verify-page'),
    classes: await page.$$eval('#by-class tbody tr', (rows) => rows.map((r) => r.cells[0].textContent.trim())),
    bars: await page.$$eval('.chart rect', (r) => r.length),
  };
  await shot('08-analytics');

  // Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(new URL('/console', page.url()).href);
  report.phone = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  await shot('09-phone');

  // Keyboard: the first Tab reaches the skip link.
  await page.keyboard.press('Tab');
  report.firstTab = await page.evaluate(() => document.activeElement?.textContent?.trim());

  // Sign out: the console asks to sign in again.
  await page.setViewportSize({ width: 1200, height: 1000 });
  await page.click('.sign-out button');
  await page.waitForURL(/\/console\/sign-in$/);
  await page.goto(new URL('/console/credentials', page.url()).href);
  report.afterSignOut = page.url();
} catch (e) {
  report.failure = `${e.stack ?? e}`;
  await shot('failure').catch(() => undefined);
}
await browser.close();
process.stdout.write(JSON.stringify(report) + '\n');
