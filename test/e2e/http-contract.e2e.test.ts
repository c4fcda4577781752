/**
 * Every HTTP route on the local stack, held to the published contract (shared/protocol/http-contract.ts):
 * each answer's status is one the route's contract declares, and its body is exactly what the
 * contract's schema for that status describes, no field more or less.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRoutes } from '#shared/config/functions';
import {
  type HttpFunctionName,
  type HttpStatus,
  httpContract,
  type ResponseContract,
} from '#shared/protocol/http-contract';
import { buildOpenApiDocument } from '#shared/protocol/openapi';
import { ChatClient, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { createWebPushSubscriber } from '../support/web-push-subscriber';

type User = { token: string; userId: string };

interface Answer {
  readonly status: number;
  /** Parsed JSON; undefined for an empty body. */
  readonly body: unknown;
}

let stack: TestStack;
let ann: User;
let ben: User;
let cat: User;
let dan: User;
let groupId: string;
let directId: string;
const exercised = new Set<HttpFunctionName>();

/**
 * Calls the route the catalog gives `functionName`, filling its path template, and checks the answer
 * against the contract before handing it back.
 */
async function callRoute(
  functionName: HttpFunctionName,
  caller: User | undefined,
  pathParameters: Readonly<Record<string, string>> = {},
  request: { readonly query?: string; readonly body?: unknown } = {},
): Promise<Answer> {
  const route = httpRoutes.find((candidate) => candidate.function === functionName);
  if (route === undefined) throw new Error(`${functionName} has no HTTP route`);
  const path = route.path.replace(/\{(\w+)\}/g, (_template, name: string) => {
    const value = pathParameters[name];
    if (value === undefined) throw new Error(`${route.path} needs a value for {${name}}`);
    return encodeURIComponent(value);
  });
  const response = await fetch(`${stack.httpUrl}${path}${request.query ? `?${request.query}` : ''}`, {
    method: route.method,
    headers: {
      'content-type': 'application/json',
      ...(caller === undefined ? {} : { authorization: `Bearer ${caller.token}` }),
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
  });
  const text = await response.text();
  const answer = { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  expectContractHolds(functionName, answer);
  exercised.add(functionName);
  return answer;
}

function expectContractHolds(functionName: HttpFunctionName, answer: Answer): void {
  const declared: Readonly<Partial<Record<number, ResponseContract>>> = httpContract[functionName].responses;
  const response = declared[answer.status];
  expect(response, `${functionName} answered ${answer.status}, a status its contract does not declare`).toBeDefined();
  if (response?.body === undefined) {
    expect(answer.body, `${functionName} ${answer.status} has no body in its contract`).toBeUndefined();
    return;
  }
  const parsed = response.body.safeParse(answer.body);
  expect(parsed.error?.issues ?? [], `${functionName} ${answer.status} body`).toEqual([]);
  // Parsing drops the fields a schema does not name: equal means the answer has none.
  expect(parsed.data, `${functionName} ${answer.status} body has fields its schema does not name`).toEqual(answer.body);
}

const expectStatus = (answer: Answer, status: HttpStatus) => expect(answer.status).toBe(status);

/** Reads a field of a body already checked against its schema. */
function field(answer: Answer, name: string): unknown {
  return (answer.body as Record<string, unknown>)[name];
}

function errorCodeOf(answer: Answer): unknown {
  return (field(answer, 'error') as Record<string, unknown> | undefined)?.code;
}

beforeAll(async () => {
  stack = await startTestStack('e2e-http-contract');
  [ann, ben, cat, dan] = (await Promise.all(
    ['ann', 'ben', 'cat', 'dan'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User, User];
});

afterAll(async () => {
  await stack?.stop();
});

describe('authorization', () => {
  it("refuses a call without a token with API Gateway's 401", async () => {
    const anonymous = await callRoute('httpCreateUser', undefined, {}, { body: { name: 'Eve', username: 'eve' } });

    expectStatus(anonymous, 401);
  });
});

describe('user profiles', () => {
  it('POST /users answers the new profile (201), and 400 and 409 with the error body', async () => {
    const annCreated = await callRoute(
      'httpCreateUser',
      ann,
      {},
      { body: { name: 'Ann', username: 'Ann', email: 'ann@example.com' } },
    );
    await callRoute('httpCreateUser', ben, {}, { body: { name: 'Ben', username: 'ben', phone: '+14155550123' } });
    await callRoute('httpCreateUser', dan, {}, { body: { name: 'Dan', username: 'dan' } });
    const unknownField = await callRoute(
      'httpCreateUser',
      cat,
      {},
      { body: { name: 'Cat', username: 'cat', id: 'x' } },
    );
    const taken = await callRoute('httpCreateUser', cat, {}, { body: { name: 'Cat', username: 'ANN' } });

    expectStatus(annCreated, 201);
    expectStatus(unknownField, 400);
    expect(errorCodeOf(unknownField)).toBe('bad_request');
    expectStatus(taken, 409);
    expect(errorCodeOf(taken)).toBe('conflict');
  });

  it('GET /users/{id} answers the whole profile to its owner and the public view to others; 400 and 404', async () => {
    const own = await callRoute('httpGetUser', ann, { id: ann.userId });
    const others = await callRoute('httpGetUser', ben, { id: ann.userId });
    const badId = await callRoute('httpGetUser', ann, { id: 'not an id' });
    const noProfile = await callRoute('httpGetUser', ann, { id: cat.userId });

    expectStatus(own, 200);
    expect(field(own, 'email')).toBe('ann@example.com');
    expectStatus(others, 200);
    expect(others.body).not.toHaveProperty('email');
    expectStatus(badId, 400);
    expectStatus(noProfile, 404);
  });

  it('GET /users?username= answers a page of public profiles (200); 400 for a short prefix', async () => {
    const found = await callRoute('httpSearchUsers', ben, {}, { query: 'username=ANN' });
    const short = await callRoute('httpSearchUsers', ben, {}, { query: 'username=an' });

    expectStatus(found, 200);
    expect(field(found, 'users')).toEqual([{ id: ann.userId, name: 'Ann', username: 'ann' }]);
    expectStatus(short, 400);
    expect(errorCodeOf(short)).toBe('bad_request');
  });

  it('PUT /users/{id} answers the changed profile (200); 403 for another user', async () => {
    const changed = await callRoute(
      'httpUpdateUser',
      ann,
      { id: ann.userId },
      { body: { name: 'Ann S', email: null } },
    );
    const notOwner = await callRoute('httpUpdateUser', ben, { id: ann.userId }, { body: { name: 'Mallory' } });

    expectStatus(changed, 200);
    expect(changed.body).not.toHaveProperty('email');
    expectStatus(notOwner, 403);
  });
});

describe('conversations', () => {
  it('POST /conversations answers 201 with the new conversation, 200 with an existing direct one, 400', async () => {
    const group = await callRoute(
      'httpCreateConversation',
      ann,
      {},
      {
        body: { type: 'group', name: 'Contract', memberIds: [ben.userId, cat.userId] },
      },
    );
    const direct = await callRoute(
      'httpCreateConversation',
      ann,
      {},
      { body: { type: 'direct', memberIds: [ben.userId] } },
    );
    const directAgain = await callRoute(
      'httpCreateConversation',
      ben,
      {},
      {
        body: { type: 'direct', memberIds: [ann.userId] },
      },
    );
    const badType = await callRoute('httpCreateConversation', ann, {}, { body: { type: 'channel', memberIds: [] } });

    expectStatus(group, 201);
    expectStatus(direct, 201);
    expectStatus(directAgain, 200);
    expectStatus(badType, 400);
    groupId = String(field(group, 'id'));
    directId = String(field(direct, 'id'));
  });

  it('GET /conversations/{id} answers members (200) and 404 to anyone else', async () => {
    const read = await callRoute('httpGetConversation', ann, { id: groupId });
    const outsider = await callRoute('httpGetConversation', dan, { id: groupId });

    expectStatus(read, 200);
    expectStatus(outsider, 404);
    expect(errorCodeOf(outsider)).toBe('not_found');
  });

  it('GET /users/{id}/presence answers for someone in a conversation with the caller (200); 404 for anyone else, 400', async () => {
    const member = await callRoute('httpGetPresence', ann, { id: ben.userId });
    const stranger = await callRoute('httpGetPresence', ann, { id: dan.userId });
    const badId = await callRoute('httpGetPresence', ann, { id: 'not an id' });

    expectStatus(member, 200);
    expect(member.body).toEqual({ online: false, lastSeenAt: null });
    expectStatus(stranger, 404);
    expectStatus(badId, 400);
  });

  it('PATCH /conversations/{id} renames for an admin (200); 403 for a member, 400 for a direct one', async () => {
    const renamed = await callRoute('httpUpdateConversation', ann, { id: groupId }, { body: { name: 'Contract 2' } });
    const member = await callRoute('httpUpdateConversation', ben, { id: groupId }, { body: { name: 'Mine' } });
    const direct = await callRoute('httpUpdateConversation', ann, { id: directId }, { body: { name: 'Direct' } });

    expectStatus(renamed, 200);
    expectStatus(member, 403);
    expectStatus(direct, 400);
  });

  it('POST /conversations/{id}/participants adds for an admin (200); 400 for an empty list', async () => {
    const added = await callRoute('httpAddParticipants', ann, { id: groupId }, { body: { userIds: [dan.userId] } });
    const empty = await callRoute('httpAddParticipants', ann, { id: groupId }, { body: { userIds: [] } });

    expectStatus(added, 200);
    expectStatus(empty, 400);
  });
});

describe('messages', () => {
  it('POST /conversations/{id}/messages answers 201, then 200 for a retry; 404 for a non-member', async () => {
    const sent = await callRoute(
      'httpSendMessage',
      ben,
      { id: groupId },
      { body: { clientMessageId: 'c-1', text: 'hi' } },
    );
    const retried = await callRoute(
      'httpSendMessage',
      ben,
      { id: groupId },
      { body: { clientMessageId: 'c-1', text: 'hi' } },
    );
    const nonMember = await callRoute(
      'httpSendMessage',
      dan,
      { id: directId },
      {
        body: { clientMessageId: 'c-2', text: 'hi' },
      },
    );

    expectStatus(sent, 201);
    expectStatus(retried, 200);
    expectStatus(nonMember, 404);
  });

  it('GET /conversations/{id}/messages pages history, system events included (200); 400 for unknown parameters', async () => {
    const firstPage = await callRoute('httpListMessages', ann, { id: groupId }, { query: 'after=0&limit=2' });
    const nextPage = await callRoute(
      'httpListMessages',
      ann,
      { id: groupId },
      {
        query: `cursor=${String(field(firstPage, 'cursor'))}`,
      },
    );
    const newest = await callRoute('httpListMessages', ann, { id: groupId });
    const typo = await callRoute('httpListMessages', ann, { id: groupId }, { query: 'afer=1' });

    expectStatus(firstPage, 200);
    expect(field(firstPage, 'cursor')).toEqual(expect.any(String));
    expectStatus(nextPage, 200);
    expectStatus(newest, 200);
    const types = (field(newest, 'messages') as { type: string }[]).map((message) => message.type);
    expect(types).toEqual(expect.arrayContaining(['text', 'system']));
    expectStatus(typo, 400);
  });

  it('GET /messages/{id} answers a visible message (200); 404 for one that does not exist', async () => {
    const read = await callRoute('httpGetMessage', cat, { id: `${groupId}-1` });
    const missing = await callRoute('httpGetMessage', cat, { id: `${groupId}-999` });

    expectStatus(read, 200);
    expectStatus(missing, 404);
  });

  it('PATCH, DELETE and POST reactions on /messages/{id} answer 201 or a retry 200; 403, 404 and 409 refuse', async () => {
    const sent = await callRoute(
      'httpSendMessage',
      ben,
      { id: groupId },
      { body: { clientMessageId: 'c-chg', text: 'draft' } },
    );
    const id = String((sent.body as { message: { id: string } }).message.id);

    const edited = await callRoute('httpEditMessage', ben, { id }, { body: { text: 'final', clientMessageId: 'e-1' } });
    const retried = await callRoute(
      'httpEditMessage',
      ben,
      { id },
      { body: { text: 'final', clientMessageId: 'e-1' } },
    );
    const notSender = await callRoute('httpEditMessage', cat, { id }, { body: { text: 'mine now' } });
    const reacted = await callRoute('httpReactToMessage', cat, { id }, { body: { emoji: '👍' } });
    const twice = await callRoute('httpReactToMessage', cat, { id }, { body: { emoji: '👍' } });
    const badEmoji = await callRoute('httpReactToMessage', cat, { id }, { body: { emoji: 'ok' } });
    const missing = await callRoute('httpDeleteMessage', ben, { id: `${groupId}-999` });
    const deleted = await callRoute('httpDeleteMessage', ben, { id });

    expectStatus(edited, 201);
    expectStatus(retried, 200);
    expectStatus(notSender, 403);
    expectStatus(reacted, 201);
    expectStatus(twice, 409);
    expectStatus(badEmoji, 400);
    expectStatus(missing, 404);
    expectStatus(deleted, 201);
  });

  it('POST and GET /messages/{id}/read_receipts mark read (204) and list who had it (200); 404 for one that does not exist', async () => {
    const marked = await callRoute('httpMarkRead', cat, { id: `${groupId}-1` });
    const listed = await callRoute('httpListReadReceipts', ann, { id: `${groupId}-1` });
    const missingMark = await callRoute('httpMarkRead', cat, { id: `${groupId}-999` });
    const missingList = await callRoute('httpListReadReceipts', cat, { id: `${groupId}-999` });

    expectStatus(marked, 204);
    expectStatus(listed, 200);
    expectStatus(missingMark, 404);
    expectStatus(missingList, 404);
  });
});

describe('attachments', () => {
  it('POST /conversations/{id}/attachments answers 201 with upload URLs; 400, 404, 413 and 415 with the error body', async () => {
    const created = await callRoute(
      'httpCreateAttachment',
      ann,
      { id: groupId },
      { body: { fileName: 'cat.png', contentType: 'image/png', size: 2048 } },
    );
    const badBody = await callRoute('httpCreateAttachment', ann, { id: groupId }, { body: { fileName: 'x', size: 0 } });
    const nonMember = await callRoute(
      'httpCreateAttachment',
      dan,
      { id: directId },
      { body: { fileName: 'x.png', contentType: 'image/png', size: 10 } },
    );
    const tooLarge = await callRoute(
      'httpCreateAttachment',
      ann,
      { id: groupId },
      { body: { fileName: 'x.png', contentType: 'image/png', size: 10 * 1024 ** 3 } },
    );
    const notAccepted = await callRoute(
      'httpCreateAttachment',
      ann,
      { id: groupId },
      { body: { fileName: 'x.exe', contentType: 'application/x-msdownload', size: 10 } },
    );

    expectStatus(created, 201);
    expectStatus(badBody, 400);
    expectStatus(nonMember, 404);
    expectStatus(tooLarge, 413);
    expect(errorCodeOf(tooLarge)).toBe('payload_too_large');
    expectStatus(notAccepted, 415);
    expect(errorCodeOf(notAccepted)).toBe('unsupported_media_type');
  });

  it('GET /attachments/{id} answers the uploader (200) and 404 to others; 400 for a malformed id', async () => {
    const created = await callRoute(
      'httpCreateAttachment',
      ann,
      { id: groupId },
      { body: { fileName: 'cat.png', contentType: 'image/png', size: 2048 } },
    );
    const attachmentId = String(field(created, 'attachmentId'));
    const own = await callRoute('httpGetAttachment', ann, { id: attachmentId });
    const someoneElse = await callRoute('httpGetAttachment', dan, { id: attachmentId });
    const malformed = await callRoute('httpGetAttachment', ann, { id: 'not an id' });

    expectStatus(own, 200);
    expect(field(own, 'status')).toBe('pending');
    expectStatus(someoneElse, 404);
    expectStatus(malformed, 400);
  });
});

describe('leaving and listing', () => {
  it('DELETE /conversations/{id}/participants/{userId} removes and leaves (204); 403 and 400', async () => {
    const notAdmin = await callRoute('httpRemoveParticipant', ben, { id: groupId, userId: cat.userId });
    const removed = await callRoute('httpRemoveParticipant', ann, { id: groupId, userId: cat.userId });
    const left = await callRoute('httpRemoveParticipant', ben, { id: groupId, userId: ben.userId });
    const direct = await callRoute('httpRemoveParticipant', ann, { id: directId, userId: ben.userId });

    expectStatus(notAdmin, 403);
    expectStatus(removed, 204);
    expectStatus(left, 204);
    expectStatus(direct, 400);
  });

  it('GET /users/{id}/conversations pages the caller’s conversations (200); 403 for someone else’s, 400', async () => {
    const firstPage = await callRoute('httpListUserConversations', ann, { id: ann.userId }, { query: 'limit=1' });
    const rest = await callRoute(
      'httpListUserConversations',
      ann,
      { id: ann.userId },
      {
        query: `cursor=${String(field(firstPage, 'cursor'))}`,
      },
    );
    const others = await callRoute('httpListUserConversations', ben, { id: ann.userId });
    const badLimit = await callRoute('httpListUserConversations', ann, { id: ann.userId }, { query: 'limit=0' });

    expectStatus(firstPage, 200);
    expectStatus(rest, 200);
    expect(field(rest, 'conversations')).toHaveLength(1);
    expectStatus(others, 403);
    expectStatus(badLimit, 400);
  });

  it('DELETE /users/{id} deletes the caller’s account (204), after which the profile reads as deleted', async () => {
    const notOwner = await callRoute('httpDeleteUser', ann, { id: dan.userId });
    const deleted = await callRoute('httpDeleteUser', dan, { id: dan.userId });
    const placeholder = await callRoute('httpGetUser', ann, { id: dan.userId });
    // Events for the removal, the leave and the deletion's leave, validated against the message schema.
    const history = await callRoute('httpListMessages', ann, { id: groupId });

    expectStatus(notOwner, 403);
    expectStatus(deleted, 204);
    expectStatus(placeholder, 200);
    expect(field(placeholder, 'deleted')).toBe(true);
    expectStatus(history, 200);
  });

  it('refuses the deleted account’s still-valid token a ticket and a new conversation (401 unauthorized)', async () => {
    const ticket = await callRoute('httpCreateConnectTicket', dan);
    const conversation = await callRoute(
      'httpCreateConversation',
      dan,
      {},
      { body: { type: 'direct', memberIds: [ann.userId] } },
    );

    for (const answer of [ticket, conversation]) {
      expectStatus(answer, 401);
      expect(errorCodeOf(answer)).toBe('unauthorized');
    }
  });
});

describe('connect tickets', () => {
  it('POST /connect-ticket answers a ticket and its expiry (201)', async () => {
    const issued = await callRoute('httpCreateConnectTicket', ann);

    expectStatus(issued, 201);
    expect(field(issued, 'ticket')).toEqual(expect.any(String));
  });
});

describe('push subscriptions', () => {
  it('GET /push/vapid-public-key answers the key (200); POST and DELETE a device’s subscription answer 204, 400 and 404', async () => {
    // The device registers by connecting once.
    const phone = await ChatClient.connect(stack.wsUrl, ben.token, 'phone');
    await phone.close();
    const { subscription } = createWebPushSubscriber(stack.pushService.newEndpoint());

    const key = await callRoute('httpGetVapidPublicKey', ben);
    const registered = await callRoute(
      'httpRegisterPushSubscription',
      ben,
      { deviceId: 'phone' },
      { body: subscription },
    );
    const foreign = await callRoute(
      'httpRegisterPushSubscription',
      ben,
      { deviceId: 'phone' },
      { body: { ...subscription, endpoint: 'https://push.example.com/abc' } },
    );
    const unknownDevice = await callRoute(
      'httpRegisterPushSubscription',
      cat,
      { deviceId: 'phone' },
      { body: subscription },
    );
    const removed = await callRoute('httpDeletePushSubscription', ben, { deviceId: 'phone' });
    const removedUnknown = await callRoute('httpDeletePushSubscription', ben, { deviceId: 'tablet' });
    const malformed = await callRoute('httpDeletePushSubscription', ben, { deviceId: 'no spaces' });

    expectStatus(key, 200);
    expect(field(key, 'publicKey')).toBe(stack.vapidPublicKey);
    expectStatus(registered, 204);
    expectStatus(foreign, 400);
    expect(errorCodeOf(foreign)).toBe('push_endpoint_not_allowed');
    expectStatus(unknownDevice, 404);
    expectStatus(removed, 204);
    expectStatus(removedUnknown, 404);
    expectStatus(malformed, 400);
  });
});

describe('the contract', () => {
  it('was exercised on every route in httpRoutes', () => {
    const unexercised = httpRoutes.filter((route) => !exercised.has(route.function));

    expect(unexercised).toEqual([]);
  });

  it('is served as the OpenAPI document at GET /openapi.json, without a token', async () => {
    const response = await fetch(`${stack.httpUrl}/openapi.json`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });
});
