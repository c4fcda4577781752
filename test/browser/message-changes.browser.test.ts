/**
 * Reply, edit, delete and react in the web app, in a real browser (Debian's Chromium through
 * playwright-core) against a whole local stack, as chat.browser.test.ts runs it: Alice and Bob in a
 * direct chat, each change made on one side and seen on the other. Screenshots go to
 * test-results/screenshots/ (named `changes-…`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/local-stack';

const chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/lib/chromium/chromium';
const screenshotDir = join('test-results', 'screenshots');
/** Auto-waiting bound for anything the app shows: generous, since the machine may be busy. */
const shown = { timeout: 30_000 } as const;
const stepTimeout = 180_000;

interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly pageErrors: string[];
}

let stack: TestStack | undefined;
let browser: Browser | undefined;
let screenshotCount = 0;

async function screenshot(page: Page, name: string): Promise<void> {
  screenshotCount++;
  await page.screenshot({
    path: join(screenshotDir, `changes-${String(screenshotCount).padStart(2, '0')}-${name}.png`),
  });
}

async function signIn(username: string, name: string): Promise<User> {
  const webUrl = stack?.webUrl;
  if (browser === undefined || webUrl === undefined) throw new Error('The browser or the web app did not start');
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(webUrl);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByTestId('my-user-id').waitFor(shown);
  await page.getByTestId('connection-banner').waitFor({ state: 'detached', ...shown });
  return { context, page, pageErrors };
}

function messageWithText(page: Page, text: string): Locator {
  return page.locator('li.message', { has: page.locator('.text', { hasText: text }) });
}

function messageAt(page: Page, seq: string): Locator {
  return page.locator(`li.message[data-seq="${seq}"]`);
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
  await messageWithText(page, text).and(page.locator('[data-seq]')).waitFor(shown);
}

/** Hovers the message (its actions show on hover) and presses one of them. */
async function act(message: Locator, action: 'Reply' | 'React' | 'Edit' | 'Delete'): Promise<void> {
  await message.hover();
  await message
    .getByRole('toolbar', { name: 'Message actions' })
    .getByRole('button', { name: action, exact: true })
    .click();
}

function chip(message: Locator, emoji: string): Locator {
  return message.locator(`button.reaction[data-emoji="${emoji}"]`);
}

describe('web app: reply, edit, delete and react', () => {
  let alice: User;
  let bob: User;
  /** The seq of Alice's first message, which every step changes. */
  let planSeq: string;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`No Chromium at ${chromiumPath} (apt-get install chromium)`);
    mkdirSync(screenshotDir, { recursive: true });
    stack = await startTestStack('browser-changes', { web: true });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    alice = await signIn('alice', 'Alice');
    bob = await signIn('bob', 'Bob');
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it(
    'replies with a quote of the message answered, seen on both sides',
    async () => {
      await alice.page.getByRole('button', { name: 'New chat' }).click();
      await alice.page.getByLabel('Find people').fill('bob');
      await alice.page.getByRole('button', { name: 'Bob @bob' }).click();
      await alice.page.getByRole('heading', { name: 'Bob', level: 2 }).waitFor(shown);
      await send(alice.page, 'Dinner at 8?');
      planSeq = (await messageWithText(alice.page, 'Dinner at 8?').getAttribute('data-seq')) ?? '';
      expect(planSeq).not.toBe('');
      await bob.page.locator('nav button.conversation', { hasText: 'Alice' }).click();
      const plan = messageAt(bob.page, planSeq);
      await plan.locator('.text', { hasText: 'Dinner at 8?' }).waitFor(shown);

      await act(plan, 'Reply');
      await bob.page.locator('.replying', { hasText: 'Dinner at 8?' }).waitFor(shown);
      await send(bob.page, 'Sounds good');

      const bobsReply = messageWithText(bob.page, 'Sounds good');
      // Names come from profiles loaded in the background: wait for them rather than read once.
      await bobsReply
        .locator('.quote', { hasText: 'Alice' })
        .locator('.quote-text', { hasText: 'Dinner at 8?' })
        .waitFor(shown);
      await expect(bob.page.locator('.replying').count()).resolves.toBe(0);
      const alicesCopy = messageWithText(alice.page, 'Sounds good');
      await alicesCopy.locator('.quote', { hasText: 'Dinner at 8?' }).waitFor(shown);
      await alicesCopy.locator('.quote-sender', { hasText: 'You' }).waitFor(shown);
      await screenshot(alice.page, 'reply');
    },
    stepTimeout,
  );

  it(
    'edits one’s own message: the other side sees the new text, "edited", and the reply’s quote follows',
    async () => {
      // Only the sender may edit: Bob gets no Edit action on Alice's message.
      const bobsView = messageAt(bob.page, planSeq);
      await bobsView.hover();
      await bobsView.getByRole('toolbar', { name: 'Message actions' }).waitFor(shown);
      await expect(bobsView.getByRole('button', { name: 'Edit', exact: true }).count()).resolves.toBe(0);

      const plan = messageAt(alice.page, planSeq);
      await act(plan, 'Edit');
      await plan.getByLabel('Edited message').fill('Dinner at 9?');
      await plan.getByLabel('Edited message').press('Enter');

      await bobsView.locator('.text', { hasText: 'Dinner at 9?' }).waitFor(shown);
      await bobsView.locator('.edited', { hasText: 'edited' }).waitFor(shown);
      await messageWithText(bob.page, 'Sounds good').locator('.quote', { hasText: 'Dinner at 9?' }).waitFor(shown);
      await plan.locator('.edited').waitFor(shown);
      await screenshot(bob.page, 'edited');
    },
    stepTimeout,
  );

  it(
    'reacts from the picker, shows counts and who reacted, and toggles one’s own reaction',
    async () => {
      const bobsView = messageAt(bob.page, planSeq);
      await act(bobsView, 'React');
      await bobsView.getByRole('button', { name: 'React with 👍' }).click();

      const alicesView = messageAt(alice.page, planSeq);
      const alicesChip = chip(alicesView, '👍');
      await alicesChip.locator('.count', { hasText: '1' }).waitFor(shown);
      await alicesView.locator('button.reaction[data-emoji="👍"][title="Bob"][aria-pressed="false"]').waitFor(shown);
      // Screen-reader users hear it too.
      await alice.page.getByTestId('live-region').filter({ hasText: 'Bob reacted 👍' }).waitFor(shown);

      // Alice joins in by pressing the chip: two on Bob's side, pressed on hers.
      await alicesChip.click();
      const bobsChip = chip(bobsView, '👍');
      await bobsChip.locator('.count', { hasText: '2' }).waitFor(shown);
      // Who reacted, in id order, on hover.
      await bobsView
        .locator('button.reaction[data-emoji="👍"]:is([title="Alice, You"], [title="You, Alice"])')
        .waitFor(shown);
      await alicesView.locator('button.reaction[aria-pressed="true"]').waitFor(shown);
      await screenshot(alice.page, 'reactions');

      // And takes hers back.
      await alicesChip.click();
      await bobsChip.locator('.count', { hasText: '1' }).waitFor(shown);
      await bobsView.locator('button.reaction[data-emoji="👍"][title="You"]').waitFor(shown);
    },
    stepTimeout,
  );

  it(
    'deletes one’s own message for everyone: a tombstone on both sides, and the reply’s quote says so',
    async () => {
      const plan = messageAt(alice.page, planSeq);
      await act(plan, 'Delete');
      await plan.getByRole('button', { name: 'Delete for everyone' }).click();

      const bobsView = messageAt(bob.page, planSeq);
      await bobsView.locator('.tombstone', { hasText: 'This message was deleted' }).waitFor(shown);
      await expect(bobsView.locator('.text').count()).resolves.toBe(0);
      await expect(bobsView.locator('button.reaction').count()).resolves.toBe(0);
      await messageWithText(bob.page, 'Sounds good')
        .locator('.quote.deleted', { hasText: 'This message was deleted' })
        .waitFor(shown);
      await plan.locator('.tombstone').waitFor(shown);
      // A tombstone offers nothing more to do.
      await expect(bobsView.getByRole('toolbar').count()).resolves.toBe(0);
      await screenshot(bob.page, 'deleted');
    },
    stepTimeout,
  );

  it(
    'lets a group admin delete another member’s message, and offers a member no delete of others’',
    async () => {
      await alice.page.getByRole('button', { name: 'New group' }).click();
      await alice.page.getByLabel('Group name').fill('Crag');
      await alice.page.getByLabel('Add people').fill('bob');
      await alice.page.getByRole('button', { name: 'Bob @bob' }).click();
      await alice.page.getByRole('list', { name: 'Members chosen' }).getByText('Bob').waitFor(shown);
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      await alice.page.getByRole('heading', { name: 'Crag', level: 2 }).waitFor(shown);
      await send(alice.page, 'Meet at the crag');
      await bob.page.locator('nav button.conversation', { hasText: 'Crag' }).click();
      await messageWithText(bob.page, 'Meet at the crag').waitFor(shown);
      await send(bob.page, 'Off-topic ad');

      // Bob is a member, not an admin: no Delete on Alice's message.
      const alicesInBobsView = messageWithText(bob.page, 'Meet at the crag');
      await alicesInBobsView.hover();
      await alicesInBobsView.getByRole('toolbar', { name: 'Message actions' }).waitFor(shown);
      await expect(alicesInBobsView.getByRole('button', { name: 'Delete', exact: true }).count()).resolves.toBe(0);

      const ad = messageWithText(alice.page, 'Off-topic ad');
      await ad.waitFor(shown);
      const adSeq = (await ad.getAttribute('data-seq')) ?? '';
      // Alice may delete it as the group's admin, but not edit it.
      await ad.hover();
      await expect(ad.getByRole('button', { name: 'Edit', exact: true }).count()).resolves.toBe(0);
      await act(ad, 'Delete');
      await ad.getByRole('button', { name: 'Delete for everyone' }).click();

      await messageAt(bob.page, adSeq).locator('.tombstone').waitFor(shown);
      await messageAt(alice.page, adSeq).locator('.tombstone').waitFor(shown);
      await screenshot(bob.page, 'admin-deleted');
    },
    stepTimeout,
  );

  it('raised no errors in any page', () => {
    for (const user of [alice, bob]) expect(user.pageErrors).toEqual([]);
  });
});
