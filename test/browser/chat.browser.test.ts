/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against a whole local
 * stack: sign-in, a direct chat with ticks, offline catch-up, an image in a group of three, group
 * membership, history scrolled back after a reload, and Cognito's hosted login (its endpoints
 * answered by the test). Each step saves a screenshot to test-results/screenshots/.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/local-stack';

const chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/lib/chromium/chromium';
const screenshotDir = join('test-results', 'screenshots');
/** Auto-waiting bound for anything the app shows: generous, since the machine may be busy. */
const shown = { timeout: 30_000 } as const;
/** Reconnecting after going offline waits out the SDK's backoff (up to 30 s). */
const reconnected = { timeout: 60_000 } as const;
const stepTimeout = 180_000;

interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly userId: string;
  readonly pageErrors: string[];
}

let stack: TestStack | undefined;
let browser: Browser | undefined;
let screenshotCount = 0;

function requireStack(): TestStack {
  if (stack === undefined) throw new Error('The stack did not start');
  return stack;
}

async function screenshot(page: Page, name: string): Promise<void> {
  screenshotCount++;
  await page.screenshot({ path: join(screenshotDir, `${String(screenshotCount).padStart(2, '0')}-${name}.png`) });
}

async function signIn(username: string, name: string): Promise<User> {
  if (browser === undefined) throw new Error('The browser did not start');
  const webUrl = requireStack().webUrl;
  if (webUrl === undefined) throw new Error('The stack serves no web app');
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(webUrl);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // First sign-in: the profile does not exist yet.
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  const userId = (await page.getByTestId('my-user-id').textContent(shown)) ?? '';
  await page.getByTestId('connection-banner').waitFor({ state: 'detached', ...shown });
  return { context, page, userId, pageErrors };
}

function conversationButton(page: Page, title: string): Locator {
  return page.locator('nav button.conversation', { has: page.locator('.conversation-title', { hasText: title }) });
}

function messageWithText(page: Page, text: string): Locator {
  return page.locator('li.message', { has: page.locator('.text', { hasText: text }) });
}

async function waitForTick(page: Page, text: string, state: 'sent' | 'delivered' | 'read'): Promise<void> {
  await messageWithText(page, text).locator(`.ticks[data-state="${state}"]`).waitFor(shown);
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
  // Accepted by the server once the pending copy gives way to the stored message.
  await messageWithText(page, text).and(page.locator('[data-seq]')).waitFor(shown);
}

/** A small landscape "photo": sky, sun and mountains, drawn with sharp. */
function summitPng(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#5b8ff9"/><stop offset="1" stop-color="#cfe0ff"/></linearGradient></defs>
    <rect width="640" height="400" fill="url(#sky)"/>
    <circle cx="500" cy="90" r="45" fill="#ffd54f"/>
    <polygon points="0,400 180,140 300,300 420,110 640,400" fill="#37474f"/>
    <polygon points="180,140 215,190 150,185" fill="#ffffff"/>
    <polygon points="420,110 460,170 385,165" fill="#ffffff"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe('web app in Chromium', () => {
  let alice: User;
  let bob: User;
  let carol: User;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`No Chromium at ${chromiumPath} (apt-get install chromium)`);
    mkdirSync(screenshotDir, { recursive: true });
    stack = await startTestStack('browser', { web: true });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it(
    'signs two users in, creating their profiles',
    async () => {
      alice = await signIn('alice', 'Alice');
      bob = await signIn('bob', 'Bob');
      expect(alice.userId).not.toBe('');
      expect(bob.userId).not.toBe(alice.userId);
      await screenshot(bob.page, 'bob-signed-in');
    },
    stepTimeout,
  );

  it(
    'starts a direct chat; the sender sees delivered, then read once the other opens it',
    async () => {
      await alice.page.getByRole('button', { name: 'New chat' }).click();
      // Found by username as she types, not by an id copied from his window.
      await alice.page.getByLabel('Find people').fill('nobody_here');
      await alice.page.getByText('No one with that username.').waitFor(shown);
      await alice.page.getByLabel('Find people').fill('BOB');
      await alice.page.getByRole('button', { name: 'Bob @bob' }).click();
      await alice.page.getByRole('heading', { name: 'Bob', level: 2 }).waitFor(shown);
      await send(alice.page, 'Hi Bob!');
      // Bob is online but has not opened the chat: delivered, not read.
      await waitForTick(alice.page, 'Hi Bob!', 'delivered');
      await screenshot(alice.page, 'alice-delivered');

      const bobsEntry = conversationButton(bob.page, 'Alice');
      await bobsEntry.locator('.badge', { hasText: '1' }).waitFor(shown);
      await expect(bobsEntry.locator('.preview').textContent()).resolves.toBe('Hi Bob!');
      await bobsEntry.click();
      await messageWithText(bob.page, 'Hi Bob!').waitFor(shown);
      await waitForTick(alice.page, 'Hi Bob!', 'read');
      await screenshot(alice.page, 'alice-read');
      // Both have the chat open: Alice's header shows Bob online, then typing while he writes.
      const aliceHeader = alice.page.locator('.chat-header');
      await aliceHeader.getByText('online', { exact: true }).waitFor(shown);
      await bob.page.getByLabel('Message', { exact: true }).fill('Hi');
      await aliceHeader.getByText('Bob is typing…').waitFor(shown);
      await screenshot(alice.page, 'alice-sees-bob-typing');

      await send(bob.page, 'Hi Alice! Topo is at https://example.com/topo.');
      const reply = messageWithText(alice.page, 'Hi Alice!');
      await reply.waitFor(shown);
      const link = reply.getByRole('link', { name: 'https://example.com/topo' });
      await expect(link.getAttribute('href')).resolves.toBe('https://example.com/topo');
      await expect(link.getAttribute('target')).resolves.toBe('_blank');
      await expect(link.getAttribute('rel')).resolves.toBe('noopener noreferrer');
      // Text is text: markup in a message is shown, never interpreted, and only http(s) becomes a link.
      await send(alice.page, '<b>not bold</b> javascript:alert(1)');
      const markup = messageWithText(bob.page, '<b>not bold</b>');
      await markup.waitFor(shown);
      await expect(markup.locator('b').count()).resolves.toBe(0);
      await expect(markup.getByRole('link').count()).resolves.toBe(0);
      // Bob's read has reached the server before he goes offline in the next step.
      await waitForTick(alice.page, '<b>not bold</b>', 'read');
      await screenshot(bob.page, 'bob-direct-chat');
    },
    stepTimeout,
  );

  it(
    'catches up an offline user, in order, and ticks go from sent to delivered to read',
    async () => {
      await bob.page.getByRole('button', { name: 'Back to conversations' }).click();
      await bob.context.setOffline(true);
      await bob.page.locator('[data-testid="connection-banner"][data-state="offline"]').waitFor(shown);
      await screenshot(bob.page, 'bob-offline');

      for (const text of ['First while away', 'Second while away', 'Third while away']) await send(alice.page, text);
      for (const text of ['First while away', 'Second while away', 'Third while away'])
        await waitForTick(alice.page, text, 'sent');
      await screenshot(alice.page, 'alice-sent-while-bob-offline');

      await bob.context.setOffline(false);
      await bob.page.getByTestId('connection-banner').waitFor({ state: 'detached', ...reconnected });
      await waitForTick(alice.page, 'Third while away', 'delivered');
      await conversationButton(bob.page, 'Alice').locator('.badge', { hasText: '3' }).waitFor(shown);
      await conversationButton(bob.page, 'Alice').click();
      await messageWithText(bob.page, 'Third while away').waitFor(shown);
      const texts = await bob.page.locator('li.message .text').allTextContents();
      expect(texts.slice(-3)).toEqual(['First while away', 'Second while away', 'Third while away']);
      await waitForTick(alice.page, 'Third while away', 'read');
      await screenshot(bob.page, 'bob-caught-up');
    },
    stepTimeout,
  );

  it(
    'creates a group of three; an image sent there shows its thumbnail to the others',
    async () => {
      carol = await signIn('carol', 'Carol');
      await alice.page.getByRole('button', { name: 'New group' }).click();
      await alice.page.getByLabel('Group name').fill('Climbing');
      // One found by username, one by a pasted user id.
      await alice.page.getByLabel('Add people').fill('bob');
      await alice.page.getByRole('button', { name: 'Bob @bob' }).click();
      await alice.page.getByRole('list', { name: 'Members chosen' }).getByText('Bob').waitFor(shown);
      await alice.page.getByLabel('Or members’ user ids').fill(carol.userId);
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      await alice.page.getByRole('heading', { name: 'Climbing', level: 2 }).waitFor(shown);
      await alice.page.getByText('3 members').waitFor(shown);

      await alice.page.locator('input[type="file"]').setInputFiles([
        { name: 'summit.png', mimeType: 'image/png', buffer: await summitPng() },
        { name: 'route.txt', mimeType: 'text/plain', buffer: Buffer.from('Pitch 1: 5a\nPitch 2: 5c\n') },
      ]);
      await alice.page.locator('.upload.ready', { hasText: 'summit.png' }).waitFor(shown);
      await alice.page.locator('.upload.ready', { hasText: 'route.txt' }).waitFor(shown);
      await alice.page.getByLabel('Message', { exact: true }).fill('Summit!');
      await alice.page.getByRole('button', { name: 'Send', exact: true }).click();
      await messageWithText(alice.page, 'Summit!').and(alice.page.locator('[data-seq]')).waitFor(shown);

      await conversationButton(bob.page, 'Climbing').locator('.badge').waitFor(shown);
      await screenshot(bob.page, 'conversation-list');

      for (const user of [bob, carol]) {
        await conversationButton(user.page, 'Climbing').click();
        const thumbnail = messageWithText(user.page, 'Summit!').getByRole('img', { name: 'summit.png', exact: true });
        await thumbnail.waitFor(shown);
        await user.page.waitForFunction(
          // Loaded and decoded: the thumbnail really arrived from the CDN.
          (image) => {
            const loaded = image as unknown as { complete?: boolean; naturalWidth?: number };
            return loaded.complete === true && (loaded.naturalWidth ?? 0) > 0;
          },
          await thumbnail.elementHandle(shown),
          shown,
        );
        const href = await messageWithText(user.page, 'Summit!')
          .getByRole('link', { name: /summit\.png/ })
          .getAttribute('href');
        expect(href).toMatch(/Signature=/);
        const file = messageWithText(user.page, 'Summit!').getByRole('link', { name: 'Open file route.txt' });
        await expect(file.getAttribute('rel')).resolves.toBe('noopener noreferrer');
      }
      await send(bob.page, 'What a view');
      await messageWithText(carol.page, 'What a view').waitFor(shown);
      await waitForTick(bob.page, 'What a view', 'read');
      await screenshot(bob.page, 'group-chat');

      // Both others have read it: the group tick is read, and the info view lists each of them.
      await waitForTick(alice.page, 'Summit!', 'read');
      await messageWithText(alice.page, 'Summit!').locator('.ticks').click();
      const info = alice.page.getByRole('dialog', { name: 'Message info' });
      await info.getByRole('rowheader', { name: 'Bob' }).waitFor(shown);
      await info.getByRole('rowheader', { name: 'Carol' }).waitFor(shown);
      await screenshot(alice.page, 'alice-message-info');
      await info.getByRole('button', { name: 'Close' }).click();
    },
    stepTimeout,
  );

  it(
    'lets the admin remove and add members',
    async () => {
      await alice.page.getByRole('button', { name: 'Members' }).click();
      const panel = alice.page.getByRole('complementary', { name: /Members/ });
      await panel.getByRole('button', { name: 'Remove Carol' }).click();
      await panel.getByRole('heading', { name: 'Members (2)' }).waitFor(shown);
      await conversationButton(carol.page, 'Climbing').waitFor({ state: 'detached', ...shown });
      await messageWithText(carol.page, 'Summit!').waitFor({ state: 'detached', ...shown });

      await panel.getByLabel('Add people').fill('car');
      await panel.getByRole('button', { name: 'Carol @carol' }).click();
      await panel.getByRole('heading', { name: 'Members (3)' }).waitFor(shown);
      await conversationButton(carol.page, 'Climbing').waitFor(shown);
      await screenshot(alice.page, 'alice-members');
    },
    stepTimeout,
  );

  it(
    'scrolls back through the whole history after a reload, loading older pages on the way up',
    async () => {
      const conversationId = await conversationButton(alice.page, 'Bob').getAttribute('data-conversation-id');
      if (conversationId === null) throw new Error('No conversation id on the list entry');
      const { token } = await requireStack().issueToken('alice');
      const count = 65;
      for (let index = 1; index <= count; index++) {
        const response = await fetch(`${requireStack().httpUrl}/conversations/${conversationId}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ clientMessageId: `history-${index}`, text: `History ${index}` }),
        });
        expect(response.status).toBe(201);
      }

      // A reload keeps the sign-in (this tab's session) but starts with nothing cached.
      await bob.page.reload();
      await bob.page.getByTestId('connection-banner').waitFor({ state: 'detached', ...shown });
      await conversationButton(bob.page, 'Alice').click();
      await messageWithText(bob.page, `History ${count}`).waitFor(shown);
      await screenshot(bob.page, 'bob-history-newest');
      // Each poll scrolls to the top, which loads the next older page, until the first message is reached.
      await bob.page.waitForFunction(
        `(() => {
          const scroller = document.querySelector('section.messages');
          if (scroller === null) return false;
          scroller.scrollTop = 0;
          return scroller.textContent.includes('This is the beginning of the conversation.');
        })()`,
        undefined,
        { ...shown, polling: 250 },
      );
      const history = (await bob.page.locator('li.message .text').allTextContents()).filter((text) =>
        text.startsWith('History '),
      );
      expect(history).toEqual(Array.from({ length: count }, (_, index) => `History ${index + 1}`));
      await messageWithText(bob.page, 'Hi Bob!').waitFor(shown);
      await screenshot(bob.page, 'bob-history-beginning');
    },
    stepTimeout,
  );

  it(
    'signs in through Cognito hosted login (authorization code with PKCE), the ID token as bearer',
    async () => {
      if (browser === undefined) throw new Error('The browser did not start');
      const { httpUrl, wsUrl, webUrl } = requireStack();
      const domain = 'https://auth.parley.test';
      // The local issuer's token stands in for Cognito's ID token: the local API accepts it.
      const { token: idToken, userId } = await requireStack().issueToken('dave');
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const config = {
        httpUrl,
        wsUrl,
        auth: { kind: 'cognito', domain, clientId: 'web-client', scopes: ['openid', 'email'] },
      };
      await page.route('**/config.json', (route) => route.fulfill({ json: config }));
      let authorize: URL | undefined;
      await page.route(`${domain}/oauth2/authorize**`, async (route) => {
        authorize = new URL(route.request().url());
        const callback = new URL('/callback', webUrl);
        callback.searchParams.set('code', 'the-code');
        callback.searchParams.set('state', authorize.searchParams.get('state') ?? '');
        await route.fulfill({ status: 302, headers: { location: callback.toString() } });
      });
      let tokenRequest: URLSearchParams | undefined;
      await page.route(`${domain}/oauth2/token`, async (route) => {
        tokenRequest = new URLSearchParams(route.request().postData() ?? '');
        await route.fulfill({
          headers: { 'access-control-allow-origin': '*' },
          json: {
            id_token: idToken,
            access_token: 'access',
            refresh_token: 'refresh',
            token_type: 'Bearer',
            expires_in: 3600,
          },
        });
      });
      let logout: URL | undefined;
      await page.route(`${domain}/logout**`, async (route) => {
        logout = new URL(route.request().url());
        await route.fulfill({ contentType: 'text/html', body: '<p>Signed out</p>' });
      });

      await page.goto(webUrl ?? '');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Display name').fill('Dave');
      await page.getByLabel('Username').fill('dave');
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByTestId('my-user-id').textContent(shown)).resolves.toBe(userId);
      await page.getByTestId('connection-banner').waitFor({ state: 'detached', ...shown });
      expect(new URL(page.url()).pathname).toBe('/');

      expect(authorize?.searchParams.get('client_id')).toBe('web-client');
      expect(authorize?.searchParams.get('response_type')).toBe('code');
      expect(authorize?.searchParams.get('redirect_uri')).toBe(new URL('/callback', webUrl).toString());
      expect(authorize?.searchParams.get('scope')).toBe('openid email');
      expect(authorize?.searchParams.get('code_challenge_method')).toBe('S256');
      expect(tokenRequest?.get('grant_type')).toBe('authorization_code');
      expect(tokenRequest?.get('code')).toBe('the-code');
      const verifier = tokenRequest?.get('code_verifier') ?? '';
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(
        authorize?.searchParams.get('code_challenge'),
      );
      await screenshot(page, 'dave-signed-in-with-cognito');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('Signed out').waitFor(shown);
      expect(logout?.searchParams.get('client_id')).toBe('web-client');
      expect(logout?.searchParams.get('logout_uri')).toBe(new URL('/', webUrl).toString());
      expect(pageErrors).toEqual([]);
      await context.close();
    },
    stepTimeout,
  );

  it(
    'lets a user choose who may add them to groups; a group with them is then refused with the reason',
    async () => {
      const erin = await signIn('erin', 'Erin');
      const frank = await signIn('frank', 'Frank');
      await erin.page.getByRole('button', { name: 'Privacy' }).click();
      const groupAdds = erin.page.getByLabel('Who can add me to groups');
      await expect.poll(() => groupAdds.inputValue(), shown).toBe('everyone');
      await groupAdds.selectOption('nobody');
      await screenshot(erin.page, 'privacy-settings');
      await erin.page.getByRole('button', { name: 'Save' }).click();
      await groupAdds.waitFor({ state: 'detached', ...shown });

      await frank.page.getByRole('button', { name: 'New group' }).click();
      await frank.page.getByLabel('Group name').fill('Surprise');
      await frank.page.getByLabel('Or members’ user ids').fill(erin.userId);
      await frank.page.getByRole('button', { name: 'Create group' }).click();
      await frank.page.getByRole('alert').getByText('do not let you add them to groups').waitFor(shown);
      await screenshot(frank.page, 'group-add-refused');
      expect(await conversationButton(erin.page, 'Surprise').count()).toBe(0);
      expect([...erin.pageErrors, ...frank.pageErrors]).toEqual([]);
      await Promise.all([erin.context.close(), frank.context.close()]);
    },
    stepTimeout,
  );

  it('raised no errors in any page', () => {
    for (const user of [alice, bob, carol]) expect(user.pageErrors).toEqual([]);
  });
});
