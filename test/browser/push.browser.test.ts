/**
 * Web Push in Chromium: the app registers its service worker without asking anything; a push
 * delivered to the worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`, so no
 * push service is involved) shows a notification, except for the conversation on screen; a
 * notification's link (`?c=`) opens its conversation. The server side of pushes is test/e2e/push.e2e.test.ts:
 * headless Chromium cannot subscribe offline (its PushManager needs Google's FCM), so the subscribe
 * call itself is not exercised here.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

const chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/lib/chromium/chromium';
const shown = { timeout: 30_000 } as const;

let stack: TestStack | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let devtools: CDPSession;
let webUrl: string;
let directId: string;
let groupId: string;

interface PushReport {
  readonly conversationId: string;
  readonly shown: boolean;
}

/** Page scripts are strings: this project's types have no DOM. Keeps every report the worker posts. */
const collectReports = `window.parleyPushReports = [];
navigator.serviceWorker.addEventListener('message', (event) => {
  if (event.data?.type === 'parley-push') window.parleyPushReports.push(event.data);
});`;

/** The worker's report on a push for `conversationId` (it posts one for every push it handles), once there. */
async function reportFor(conversationId: string): Promise<PushReport> {
  const handle = await page.waitForFunction(
    `window.parleyPushReports.find((report) => report.conversationId === ${JSON.stringify(conversationId)})`,
    undefined,
    shown,
  );
  const { shown: wasShown } = (await handle.jsonValue()) as PushReport;
  return { conversationId, shown: wasShown };
}

async function deliverPush(registrationId: string, payload: Record<string, unknown>): Promise<void> {
  await devtools.send('ServiceWorker.deliverPushMessage', {
    origin: new URL(webUrl).origin,
    registrationId,
    data: JSON.stringify(payload),
  });
}

const notifications = async () =>
  (await page.evaluate(`navigator.serviceWorker.ready
    .then((registration) => registration.getNotifications())
    .then((shown) => shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag })))`)) as {
    title: string;
    body: string;
    tag: string;
  }[];

describe('web push in Chromium', () => {
  let registrationId: string;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`No Chromium at ${chromiumPath} (apt-get install chromium)`);
    stack = await startTestStack('push-browser', { web: true });
    if (stack.webUrl === undefined) throw new Error('The stack serves no web app');
    webUrl = stack.webUrl;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    await context.grantPermissions(['notifications'], { origin: new URL(webUrl).origin });
    page = await context.newPage();
    devtools = await context.newCDPSession(page);
    const registered = new Promise<string>((resolve) =>
      devtools.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const found = registrations.find((registration) => !registration.isDeleted);
        if (found) resolve(found.registrationId);
      }),
    );
    await devtools.send('ServiceWorker.enable');

    await page.goto(webUrl);
    await page.getByLabel('Username').fill('ann');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Display name').fill('Ann');
    await page.getByRole('button', { name: 'Continue' }).click();
    const annId = (await page.getByTestId('my-user-id').textContent(shown)) ?? '';
    registrationId = await registered;
    await page.evaluate('navigator.serviceWorker.ready.then(() => true)');
    await page.evaluate(collectReports);

    const bo = await issueToken(stack.httpUrl, 'bobo');
    expect((await api(stack.httpUrl, bo.token, 'POST', '/users', { name: 'Bo', username: 'bobo' })).status).toBe(201);
    const direct = await api(stack.httpUrl, bo.token, 'POST', '/conversations', { type: 'direct', memberIds: [annId] });
    const group = await api(stack.httpUrl, bo.token, 'POST', '/conversations', {
      type: 'group',
      name: 'Climbers',
      memberIds: [annId],
    });
    directId = String(direct.body.id);
    groupId = String(group.body.id);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('registered the service worker on start without asking for permission', async () => {
    expect(registrationId).toEqual(expect.any(String));
    expect(await notifications()).toEqual([]);
  });

  it('shows no notification for the conversation on screen, and one for another', async () => {
    await page.locator('nav button.conversation', { hasText: 'Climbers' }).click(shown);
    await page.waitForURL((url) => url.searchParams.get('c') === groupId, shown);

    await deliverPush(registrationId, {
      type: 'message',
      conversationId: groupId,
      seq: 2,
      senderName: 'Bo',
      preview: 'up here',
    });
    expect(await reportFor(groupId)).toEqual({ conversationId: groupId, shown: false });

    await deliverPush(registrationId, {
      type: 'message',
      conversationId: directId,
      seq: 2,
      senderName: 'Bo',
      preview: 'dinner at 8?',
    });
    expect(await reportFor(directId)).toEqual({ conversationId: directId, shown: true });
    expect(await notifications()).toEqual([{ title: 'Bo', body: 'dinner at 8?', tag: `conversation:${directId}` }]);
  });

  it("opens the conversation a notification's link names", async () => {
    await page.goto(`${webUrl}/?c=${encodeURIComponent(directId)}`);

    await expect.poll(() => page.url(), shown).toContain(`c=${encodeURIComponent(directId)}`);
    // The title names the other member once their profile is read.
    await page.locator('#chat-title', { hasText: /^Bo$/ }).waitFor(shown);
  });
});
