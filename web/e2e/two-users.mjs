// End-to-end test of the web app in a real browser (headless Chromium driven by playwright-core).
//
//   node web/e2e/two-users.mjs <url of A's server> [<url of B's server>]
//
// Two browser contexts: A (alice, a desktop window) and B (bob, a phone). B finds and follows A;
// A posts a photo (upload progress, processing, thumbnail); B sees it appear live with its
// thumbnail and likes it; A gets the notification; B comments; they exchange direct messages
// (typing indicator, read receipt); B's network drops while A posts (a video, when given) and
// writes to B, and on reconnect B gets the post and the message exactly once; A (made a moderator
// after signing up, through the admin API `viora moderators grant` uses) marks the photo
// sensitive and B gets it without its files until a click on Show fetches them (media.reveal). Every step waits on a page condition, never on a
// fixed delay. Screenshots of the main screens go to $ARTIFACTS (default test-artifacts/web-e2e).
//
// Environment: PHOTO (a JPEG to upload, required), VIDEO (an MP4 for the second post, optional), CHROMIUM (default /usr/bin/chromium),
// ADMIN_TOKEN (the server's, required: it makes A a moderator), ARTIFACTS, HEADED=1 to watch.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [urlA, urlB = urlA] = process.argv.slice(2);
const PHOTO = process.env.PHOTO;
const VIDEO = process.env.VIDEO; // optional: a short MP4 posted while B is offline
const ARTIFACTS = process.env.ARTIFACTS || 'test-artifacts/web-e2e';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN;
const PASSWORD = 'correct horse battery';
const STEP_TIMEOUT_MS = 30_000;

if (!urlA || !PHOTO || !ADMIN_TOKEN) {
  console.error('usage: PHOTO=photo.jpg ADMIN_TOKEN=… node web/e2e/two-users.mjs <url A> [<url B>]');
  process.exit(2);
}

const problems = [];
let step = 'start';

function log(message) {
  console.log(`[e2e] ${message}`);
}

async function shot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled' });
  log(`screenshot ${file}`);
}

function watch(page, who) {
  page.on('pageerror', (error) => problems.push(`${who}: uncaught ${error.stack || error}`));
  page.on('console', (message) => {
    if (message.type() === 'error') log(`${who} console error: ${message.text()}`);
  });
}

async function signUp(page, url, username, displayName, screenshotName) {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByLabel('Password').fill(PASSWORD);
  await shot(page, screenshotName);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
}

/** What `viora moderators grant USERNAME` does: moderation rights are given to an existing account. */
async function grantModerator(url, username) {
  const response = await fetch(new URL(`/admin/moderators/${username}`, url), {
    method: 'PUT',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!response.ok) throw new Error(`granting ${username}: HTTP ${response.status} ${await response.text()}`);
}

async function navTo(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
}

function postCard(page, text) {
  return page.locator('main article.post', { hasText: text });
}

async function expectCount(locator, n, what) {
  const found = await locator.count();
  if (found !== n) throw new Error(`expected ${n} ${what}, found ${found}`);
}

async function run(browser) {
  await mkdir(ARTIFACTS, { recursive: true });
  const contextA = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const contextB = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const a = await contextA.newPage();
  const b = await contextB.newPage();
  for (const page of [a, b]) page.setDefaultTimeout(STEP_TIMEOUT_MS);
  watch(a, 'A');
  watch(b, 'B');

  step = 'sign up';
  await signUp(a, urlA, 'alice', 'Alice Liddell', '01-sign-up-desktop');
  await signUp(b, urlB, 'bob', 'Bob Builder', '01-sign-up-phone');
  await shot(b, '02-empty-home-phone');

  step = 'the operator makes A a moderator; her app learns it when it signs in again';
  await grantModerator(urlA, 'alice');
  await a.reload();
  await a.getByRole('heading', { name: 'Home', exact: true }).waitFor();

  step = 'B finds A (search) and follows';
  await navTo(b, 'Search');
  await b.getByLabel('Search photos, videos and people').fill('@alice');
  await b.getByRole('button', { name: 'Search', exact: true }).click();
  await b.getByRole('link', { name: /Alice Liddell/ }).click();
  await b.getByRole('heading', { name: 'Alice Liddell' }).waitFor();
  await expectCount(b.locator('.presence-text'), 0, 'presence shown before following'); // followers only
  await b.getByRole('button', { name: 'Follow', exact: true }).click();
  await b.locator('.follow-button[aria-pressed="true"]').waitFor();
  await b.locator('.presence-text[data-online="true"]', { hasText: 'Online' }).waitFor(); // A is signed in
  await b.getByTestId('followers').filter({ hasText: '1' }).waitFor();
  await shot(b, '03-profile-following-phone');

  step = 'A is told of the new follower';
  await a.locator('.aside .notification[data-kind="follow"]', { hasText: 'Bob Builder' }).waitFor();

  step = 'B waits on the home timeline; A posts a photo';
  await navTo(b, 'Home');
  await b.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  await a.getByLabel('What do you want to share?').fill('Golden hour with Chelsea the cat');
  await a.locator('#compose-files').setInputFiles(PHOTO);
  await a.locator('.attachment .progress').waitFor();
  await a.locator('.attachment[data-phase="ready"] img.is-processed[src*="/media/files/"]').waitFor();
  await shot(a, '04-composer-ready-desktop');
  await a.getByRole('button', { name: 'Post', exact: true }).click();
  await postCard(a, 'Golden hour').locator('.media.is-loaded img').waitFor();
  await a.locator('.attachments').waitFor({ state: 'detached' });

  step = 'B sees the post live, with its thumbnail';
  const seenByB = postCard(b, 'Golden hour');
  const image = seenByB.locator('.media.is-loaded img[src*="/media/files/"]');
  await image.waitFor();
  const width = await image.evaluate((img) => img.naturalWidth);
  if (!(width > 0)) throw new Error('the thumbnail did not decode');
  await expectCount(seenByB, 1, 'copies of the post on B');
  await shot(b, '05-home-live-photo-phone');

  step = 'B likes it; A sees the notification and the count';
  await seenByB.locator('button.like').click();
  await seenByB.locator('button.like[aria-pressed="true"]').waitFor();
  await a.locator('.aside .notification[data-kind="like"]', { hasText: 'Bob Builder' }).waitFor();
  await postCard(a, 'Golden hour').getByTestId('likes').filter({ hasText: /^1$/ }).waitFor();
  await a.locator('.nav .badge').waitFor();
  await shot(a, '06-home-liked-desktop');
  await navTo(a, /Notifications/);
  await a.locator('main .notification[data-kind="like"]', { hasText: 'liked your post' }).waitFor();
  await a.locator('.nav .badge').waitFor({ state: 'detached' });
  await shot(a, '07-notifications-desktop');

  step = 'B opens For you (followed accounts\' posts mixed with ones like those B liked), then Following';
  const feedSwitch = b.locator('.feed-switch');
  await feedSwitch.getByRole('button', { name: 'For you' }).click();
  await b.getByRole('feed', { name: 'For you' }).locator('.post', { hasText: 'Golden hour' }).waitFor();
  await shot(b, '07b-for-you-phone');
  await feedSwitch.getByRole('button', { name: 'Following' }).click();
  await seenByB.waitFor();

  step = 'B comments; A is told';
  await seenByB.getByRole('button', { name: /Comments/ }).click();
  await seenByB.getByLabel('Add a comment').fill('What a lovely cat!');
  await seenByB.getByRole('button', { name: 'Reply' }).click();
  await seenByB.locator('.comment', { hasText: 'What a lovely cat!' }).waitFor();
  await a.locator('main .notification[data-kind="comment"]').waitFor();
  await shot(b, '08-comment-phone');

  step = 'direct messages: B writes to A';
  await seenByB.locator('.post-author').click();
  await b.getByRole('heading', { name: 'Alice Liddell' }).waitFor();
  await b.getByRole('button', { name: 'Message' }).click();
  const inputB = b.getByRole('textbox', { name: 'Message', exact: true });
  await inputB.fill('Hi Alice! Loved the photo.');
  await b.getByRole('button', { name: 'Send' }).click();
  await b.locator('.message.is-mine', { hasText: 'Loved the photo' }).waitFor();

  step = 'A opens the conversation (read receipt to B)';
  await navTo(a, /Messages/);
  await a.locator('.conversation', { hasText: 'Bob Builder' }).click();
  await a.locator('.message.is-theirs', { hasText: 'Loved the photo' }).waitFor();
  await b.locator('.receipt[data-receipt="seen"]').waitFor();

  step = 'typing indicator, then replies both ways';
  await inputB.pressSequentially('Are you free', { delay: 20 });
  await a.getByText('Bob Builder is typing…').waitFor();
  await shot(a, '09-messages-typing-desktop');
  await inputB.press('Enter');
  await a.locator('.message.is-theirs', { hasText: 'Are you free' }).waitFor();
  await a.getByText('Bob Builder is typing…').waitFor({ state: 'detached' });
  const inputA = a.getByRole('textbox', { name: 'Message', exact: true });
  await inputA.fill('Always - come over for tea');
  await inputA.press('Enter');
  await b.locator('.message.is-theirs', { hasText: 'come over for tea' }).waitFor();
  await a.locator('.receipt[data-receipt="seen"]').waitFor();
  await shot(b, '10-messages-phone');
  await shot(a, '11-messages-desktop');

  step = 'B drops off the network while A posts; B resumes without loss or repeats';
  await navTo(b, 'Home');
  await postCard(b, 'Golden hour').waitFor();
  await contextB.setOffline(true);
  await b.locator('.connection.is-offline').waitFor();
  await shot(b, '12-reconnecting-phone');
  await navTo(a, 'Home');
  await a.getByLabel('What do you want to share?').fill('Posted while Bob was offline');
  if (VIDEO) {
    await a.locator('#compose-files').setInputFiles(VIDEO);
    await a.locator('.attachment[data-phase="ready"] img.is-processed').waitFor();
  }
  await a.getByRole('button', { name: 'Post', exact: true }).click();
  await postCard(a, 'while Bob was offline').waitFor();
  await navTo(a, /Messages/);
  await a.locator('.conversation', { hasText: 'Bob Builder' }).click();
  await inputA.fill('Did you see my new post?');
  await inputA.press('Enter');
  await a.locator('.message.is-mine', { hasText: 'Did you see my new post?' }).waitFor();
  await contextB.setOffline(false);
  await b.locator('.connection.is-online').waitFor();
  await postCard(b, 'while Bob was offline').waitFor();
  await expectCount(postCard(b, 'while Bob was offline'), 1, 'copies of the missed post on B');
  await expectCount(postCard(b, 'Golden hour'), 1, 'copies of the photo post on B');
  if (VIDEO) {
    await postCard(b, 'while Bob was offline').locator('video[poster*="/media/files/"][src*="/media/files/"]').waitFor();
    await shot(b, '12b-video-after-reconnect-phone');
  }
  await navTo(b, /Messages/);
  await b.locator('.conversation.is-unread', { hasText: 'Did you see my new post?' }).click();
  await b.locator('.message.is-theirs', { hasText: 'Did you see my new post?' }).waitFor();
  await expectCount(b.locator('.message'), 4, 'messages on B after the reconnect');
  await a.locator('.message.is-mine').last().locator('.receipt[data-receipt="seen"]').waitFor();
  await navTo(b, 'Home');
  await navTo(a, 'Home');

  step = 'A (moderator) marks the photo sensitive; B gets no files for it until a click on Show';
  const photoOnA = postCard(a, 'Golden hour');
  await photoOnA.getByRole('button', { name: 'Mark sensitive' }).click();
  await photoOnA.locator('.media[data-moderation="flagged"]').waitFor();
  await b.reload();
  const blurred = postCard(b, 'Golden hour').locator('.media.is-hidden[data-moderation="flagged"]');
  await blurred.waitFor();
  await expectCount(blurred.locator('img'), 0, 'pictures of the flagged photo before the click');
  await shot(b, '13-sensitive-blurred-phone');
  await blurred.getByRole('button', { name: /Sensitive content/ }).click();
  await postCard(b, 'Golden hour').locator('.media:not(.is-hidden) img').waitFor();
  await expectCount(postCard(b, 'while Bob was offline'), 1, 'copies of the missed post after reload');
  await shot(a, '14-home-desktop');

  step = 'phone-sized view of A';
  await a.setViewportSize({ width: 390, height: 844 });
  await shot(a, '15-home-phone-alice');
  await b.setViewportSize({ width: 1024, height: 768 });
  await shot(b, '16-home-tablet-bob');

  if (problems.length) throw new Error(`uncaught errors in the pages:\n${problems.join('\n')}`);
  return { a, b };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: process.env.HEADED !== '1',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  await run(browser);
  log('passed');
} catch (error) {
  failed = true;
  console.error(`[e2e] FAILED at step "${step}": ${error.stack || error}`);
  for (const problem of problems) console.error(`[e2e] ${problem}`);
  for (const [i, context] of browser.contexts().entries()) {
    for (const page of context.pages()) {
      await page
        .screenshot({ path: path.join(ARTIFACTS, `failure-${'AB'[i] ?? i}.png`) })
        .catch(() => {});
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
