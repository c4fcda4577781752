/**
 * The HTTP message routes end to end on the local stack: sends over HTTP reach WebSocket devices,
 * history pages through the gateway, and the refusals clients rely on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

interface WireMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  type: string;
  text: string;
  clientMessageId?: string;
}

interface User {
  token: string;
  userId: string;
}

let stack: TestStack;
let alice: User;
let bob: User;
let mallory: User;
let conversationId: string;
let alicePhone: ChatClient;
let aliceLaptop: ChatClient;
let bobLaptop: ChatClient;
const clients: ChatClient[] = [];

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

async function createGroup(creator: User, others: readonly User[]): Promise<string> {
  const created = await api(stack.httpUrl, creator.token, 'POST', '/conversations', {
    type: 'group',
    name: 'HTTP history',
    memberIds: others.map((user) => user.userId),
  });
  expect(created.status).toBe(201);
  return String(created.body.id);
}

function postMessage(user: User | undefined, conversation: string, clientMessageId: string, text: string) {
  return api(stack.httpUrl, user?.token, 'POST', `/conversations/${conversation}/messages`, { clientMessageId, text });
}

/** Follows cursors over HTTP from the first query until a page has none. */
async function readAllPages(user: User, conversation: string, firstQuery: string): Promise<WireMessage[][]> {
  const pages: WireMessage[][] = [];
  let query: string | undefined = firstQuery;
  // Bounded, so a cursor that never ends fails the test instead of hanging it.
  while (query !== undefined && pages.length < 50) {
    const answer = await api(stack.httpUrl, user.token, 'GET', `/conversations/${conversation}/messages?${query}`);
    expect(answer.status).toBe(200);
    pages.push(answer.body.messages as WireMessage[]);
    const cursor = answer.body.cursor;
    query = typeof cursor === 'string' ? `cursor=${cursor}&limit=5` : undefined;
  }
  return pages;
}

beforeAll(async () => {
  stack = await startTestStack('e2e-messages-http');
  [alice, bob, mallory] = (await Promise.all(
    ['alice', 'bob', 'mallory'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User];
  conversationId = await createGroup(alice, [bob]);
  alicePhone = await connect(alice, 'phone');
  aliceLaptop = await connect(alice, 'laptop');
  bobLaptop = await connect(bob, 'laptop');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
});

describe('POST /conversations/{id}/messages', () => {
  it("stores the message (201) and delivers it to the recipient and every one of the sender's devices", async () => {
    const answer = await postMessage(alice, conversationId, 'http-1', 'hello over http');

    expect(answer.status).toBe(201);
    const message = answer.body.message as WireMessage;
    expect(message).toMatchObject({
      conversationId,
      senderId: alice.userId,
      type: 'text',
      text: 'hello over http',
      clientMessageId: 'http-1',
    });
    expect(message).not.toHaveProperty('senderDeviceId');
    await Promise.all(
      [bobLaptop, alicePhone, aliceLaptop].map((client) =>
        client.waitForMessage((m) => m.id === message.id, `${client.deviceId} gets ${message.id}`),
      ),
    );
  });

  it('answers a retry with the same clientMessageId with the original message (200) and delivers it once', async () => {
    const first = await postMessage(alice, conversationId, 'http-retry', 'only once');

    const retry = await postMessage(alice, conversationId, 'http-retry', 'only once');
    // Per-conversation order: once a later message has arrived, everything before it has too.
    const marker = await postMessage(alice, conversationId, 'http-retry-marker', 'after the retry');
    const markerId = (marker.body.message as WireMessage).id;
    await Promise.all([bobLaptop, alicePhone].map((client) => client.waitForMessage((m) => m.id === markerId)));

    expect(first.status).toBe(201);
    expect(retry).toEqual({ status: 200, body: first.body });
    const firstId = (first.body.message as WireMessage).id;
    expect(bobLaptop.messages(conversationId).filter((m) => m.id === firstId)).toHaveLength(1);
    expect(alicePhone.messages(conversationId).filter((m) => m.id === firstId)).toHaveLength(1);
  });

  it.each([
    ['no body', undefined],
    ['no text', { clientMessageId: 'c-1' }],
    ['blank text', { clientMessageId: 'c-1', text: '   ' }],
    ['a clientMessageId with spaces', { clientMessageId: 'a b', text: 'hi' }],
  ])('answers %s with 400 bad_request', async (_case, body) => {
    const answer = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/messages`, body);

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
  });
});

describe('GET /conversations/{id}/messages', () => {
  it('pages through the whole history in both directions, every seq exactly once', async () => {
    const group = await createGroup(alice, [bob]);
    const texts = Array.from({ length: 12 }, (_, i) => `history ${i}`);
    for (const [i, text] of texts.entries()) {
      expect((await postMessage(i % 2 === 0 ? alice : bob, group, `h-${i}`, text)).status).toBe(201);
    }

    const ascending = (await readAllPages(bob, group, 'after=0&limit=5')).flat();
    const descending = (await readAllPages(bob, group, 'limit=5')).flat();

    const seqs = ascending.map((message) => message.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(ascending.filter((message) => message.type === 'text').map((message) => message.text)).toEqual(texts);
    expect(descending).toEqual([...ascending].reverse());
  });

  it('answers pages in the documented shape: before pages newest first, no cursor when nothing is left', async () => {
    const group = await createGroup(alice, [bob]);
    for (let i = 0; i < 3; i++) await postMessage(alice, group, `s-${i}`, `shape ${i}`);
    const newest = await api(stack.httpUrl, bob.token, 'GET', `/conversations/${group}/messages?limit=1`);
    const lastSeq = (newest.body.messages as WireMessage[])[0]?.seq ?? 0;

    const before = await api(stack.httpUrl, bob.token, 'GET', `/conversations/${group}/messages?before=${lastSeq}`);
    const after = await api(stack.httpUrl, bob.token, 'GET', `/conversations/${group}/messages?after=${lastSeq - 2}`);

    expect(newest.body.cursor).toEqual(expect.any(String));
    expect(before.status).toBe(200);
    expect((before.body.messages as WireMessage[]).map((m) => m.seq)).toEqual(
      Array.from({ length: lastSeq - 1 }, (_, i) => lastSeq - 1 - i),
    );
    expect(after).toMatchObject({ status: 200, body: { messages: [{ seq: lastSeq - 1 }, { seq: lastSeq }] } });
    expect(after.body).not.toHaveProperty('cursor');
  });

  it.each([
    ['a non-numeric after', 'after=abc'],
    ['a negative after', 'after=-1'],
    ['a fractional before', 'before=2.5'],
    ['after and before together', 'after=1&before=5'],
    ['a cursor with after', 'after=1&cursor=abc'],
    ['a limit of 0', 'limit=0'],
    ['a limit over 100', 'limit=101'],
    ['a cursor that is not one', 'cursor=bm90LWpzb24'],
    ['an unknown parameter', 'afer=5'],
  ])('answers %s with 400 bad_request', async (_case, query) => {
    const answer = await api(stack.httpUrl, alice.token, 'GET', `/conversations/${conversationId}/messages?${query}`);

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
  });

  it("refuses another conversation's cursor with 400", async () => {
    const [first, other] = await Promise.all([createGroup(alice, [bob]), createGroup(alice, [bob])]);
    await postMessage(alice, first, 'c-1', 'one');
    await postMessage(alice, first, 'c-2', 'two');
    const page = await api(stack.httpUrl, alice.token, 'GET', `/conversations/${first}/messages?limit=1`);
    expect(page.body.cursor).toEqual(expect.any(String));

    const answer = await api(
      stack.httpUrl,
      alice.token,
      'GET',
      `/conversations/${other}/messages?cursor=${String(page.body.cursor)}`,
    );

    expect(answer).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'Invalid cursor' } } });
  });
});

describe('GET /messages/{id}', () => {
  it('answers a member with the message, and a non-member exactly as an unknown id', async () => {
    const sent = (await postMessage(bob, conversationId, 'by-id', 'find me')).body.message as WireMessage;

    const asMember = await api(stack.httpUrl, alice.token, 'GET', `/messages/${sent.id}`);
    const asStranger = await api(stack.httpUrl, mallory.token, 'GET', `/messages/${sent.id}`);
    const unknown = await api(stack.httpUrl, alice.token, 'GET', `/messages/${conversationId}-999999`);
    const malformed = await api(stack.httpUrl, alice.token, 'GET', '/messages/not-a-message-id');

    expect(asMember).toEqual({ status: 200, body: { message: sent } });
    expect(asStranger).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'Message not found' } },
    });
    expect(unknown).toEqual(asStranger);
    expect(malformed).toEqual(asStranger);
  });
});

describe('authorization', () => {
  it('answers every message route without a token with 401', async () => {
    const answers = await Promise.all([
      postMessage(undefined, conversationId, 'no-token', 'hi'),
      api(stack.httpUrl, undefined, 'GET', `/conversations/${conversationId}/messages`),
      api(stack.httpUrl, undefined, 'GET', `/messages/${conversationId}-1`),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401]);
  });

  it('answers a non-member exactly as a conversation that does not exist, and stores nothing', async () => {
    const notFound = { status: 404, body: { error: { code: 'not_found', message: 'Conversation not found' } } };
    const before = await api(stack.httpUrl, alice.token, 'GET', `/conversations/${conversationId}/messages?limit=1`);

    const strangerSend = await postMessage(mallory, conversationId, 'sneak', 'let me in');
    const unknownSend = await postMessage(mallory, '01NOSUCHCONVERSATION', 'sneak', 'let me in');
    const strangerList = await api(stack.httpUrl, mallory.token, 'GET', `/conversations/${conversationId}/messages`);
    const unknownList = await api(stack.httpUrl, mallory.token, 'GET', '/conversations/01NOSUCHCONVERSATION/messages');
    const after = await api(stack.httpUrl, alice.token, 'GET', `/conversations/${conversationId}/messages?limit=1`);

    expect(strangerSend).toEqual(notFound);
    expect(unknownSend).toEqual(notFound);
    expect(strangerList).toEqual(notFound);
    expect(unknownList).toEqual(notFound);
    expect(after.body.messages).toEqual(before.body.messages);
  });
});
