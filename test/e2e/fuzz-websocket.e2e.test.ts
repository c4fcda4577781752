/**
 * Property-based fuzzing of every WebSocket frame on the local stack (fast-check, fixed seed):
 * arbitrary values, JSON, non-JSON and binary frames, and valid frames of every route mutated field
 * by field, sent on a real connection of a member of a real conversation. Every answer is the
 * route's success frame or an `error` frame with a stable code other than `internal`; the
 * connection stays usable, the gateway stays up, nothing is polluted and no refused frame stores a
 * message. Frames over API Gateway's 32 KB frame limit close the connection (1009) and nothing else.
 * FUZZ_SEED and FUZZ_RUNS (a multiplier) replay or widen a run.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { type FunctionName, webSocketRoutes } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import { errorCodes } from '#shared/errors';
import { conversationKeys } from '#shared/keys';
import {
  ackFrameSchema,
  deleteMessageFrameSchema,
  editMessageFrameSchema,
  pingFrameSchema,
  reactFrameSchema,
  readFrameSchema,
  sendMessageFrameSchema,
  sendMessagesFrameSchema,
  subscribePresenceFrameSchema,
  syncFrameSchema,
  typingFrameSchema,
} from '#shared/protocol/frames';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { apiGatewayWebSocketLimits, selectRouteKey } from '../../local/websocket-gateway';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import {
  type Entries,
  holds,
  type Mutation,
  mutate,
  mutation as mutationOf,
  parsedOrUndefined,
  writeEntries,
} from '../support/fuzz-entries';
import { startTestStack, type TestStack } from '../support/local-stack';

const maxFrameBytes = apiGatewayWebSocketLimits.maxFrameBytes;
const answerTimeoutMs = 10_000;

type User = { token: string; userId: string };
/** A frame as the wire sees it: JSON text built by hand (so `__proto__`, duplicates and 1e400 survive), or bytes. */
type WireFrame =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }
  | { readonly kind: 'rawText'; readonly bytes: Uint8Array };
/** An object frame before it is written: ordered entries of key and raw JSON value text. */

const stableCodes = Object.keys(errorCodes).filter((code) => code !== 'internal');
/** Frames the server pushes on its own (fan-out, sync replay, receipts); never a route's answer. */
const pushTypes = new Set(['message', 'receipt', 'receipts', 'presence', 'typing']);
const frameSchemas = {
  sendMessage: sendMessageFrameSchema,
  sendMessages: sendMessagesFrameSchema,
  editMessage: editMessageFrameSchema,
  deleteMessage: deleteMessageFrameSchema,
  react: reactFrameSchema,
  sync: syncFrameSchema,
  ack: ackFrameSchema,
  read: readFrameSchema,
  subscribePresence: subscribePresenceFrameSchema,
  typing: typingFrameSchema,
  $default: pingFrameSchema,
} as const;
const successTypes = {
  sendMessage: 'messageAccepted',
  sendMessages: 'messagesAccepted',
  editMessage: 'messageAccepted',
  deleteMessage: 'messageAccepted',
  react: 'messageAccepted',
  sync: 'syncComplete',
  // Like typing, an ack and a read answer only when refused.
  ack: 'pong',
  read: 'pong',
  subscribePresence: 'presenceSubscribed',
  // A forwarded typing frame answers nothing: the ping sent once its handler is done answers instead.
  typing: 'pong',
  $default: 'pong',
} as const;
type RoutedKey = keyof typeof frameSchemas;
const routedKeys = Object.keys(frameSchemas) as RoutedKey[];

let stack: TestStack;
let alice: User;
let bob: User;
let carol: User;
/** Alice (admin) and Bob: the conversation the fuzzed connection belongs to. */
let groupId: string;
/** Bob and Carol only: Alice may not write there. */
let foreignId: string;
/** Declared by Alice in the group, never uploaded: not sendable. */
let pendingAttachmentId: string;
let client: ChatClient;
let dynamo: DynamoDBClient;
let documentClient: DynamoDBDocumentClient;
/** lastSeq and nextSeq of both conversations as the accepted sends so far leave them. */
let marks: Record<string, { lastSeq: number; nextSeq: number }> = {};
const prototypeKeysAtStart = Object.getOwnPropertyNames(Object.prototype).sort();
/** routeKey -> answer type or error code -> count: proves each route was reached both ways. */
const outcomes = new Map<string, Map<string, number>>();

async function connectFuzzer(): Promise<ChatClient> {
  return ChatClient.connect(stack.wsUrl, alice.token, 'fuzz');
}

/** Both conversations' lastSeq and nextSeq in one strongly consistent read: far cheaper than a GET per frame. */
async function sequenceMarks(): Promise<Record<string, { lastSeq: number; nextSeq: number }>> {
  const tableName = stack.tables.conversations.tableName;
  const result = await documentClient.send(
    new BatchGetCommand({
      RequestItems: {
        [tableName]: {
          Keys: [conversationKeys.meta(groupId), conversationKeys.meta(foreignId)],
          ConsistentRead: true,
          ProjectionExpression: 'id, lastSeq, nextSeq',
        },
      },
    }),
  );
  const items = result.Responses?.[tableName] ?? [];
  return Object.fromEntries(
    items.map((item) => [String(item.id), { lastSeq: Number(item.lastSeq), nextSeq: Number(item.nextSeq) }]),
  );
}

function record(routeKey: string, outcome: string): void {
  const counts = outcomes.get(routeKey) ?? new Map<string, number>();
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  outcomes.set(routeKey, counts);
}

function wireBytes(frame: WireFrame): number {
  return frame.kind === 'text' ? Buffer.byteLength(frame.text) : frame.bytes.length;
}

/** The route API Gateway picks and whether the frame passes that route's schema, as the handlers will judge it. */
function expectationOf(frame: WireFrame): { readonly routeKey: RoutedKey; readonly valid: boolean } {
  if (frame.kind !== 'text') return { routeKey: '$default', valid: false };
  const selected = selectRouteKey(frame.text);
  const routeKey = routedKeys.find((key) => key === selected);
  if (routeKey === undefined) throw new Error(`frame routed to ${selected}, which fuzzing does not know`);
  const parsed = parsedOrUndefined(frame.text);
  return { routeKey, valid: parsed !== undefined && frameSchemas[routeKey].safeParse(parsed.value).success };
}

function send(target: ChatClient, frame: WireFrame): void {
  if (frame.kind === 'text') target.socket.send(frame.text);
  else target.socket.send(frame.bytes, { binary: frame.kind === 'binary' });
}

/** The close code once the connection closes; `stop` drops the listener when an answer came first. */
function closed(target: ChatClient): { readonly code: Promise<number>; stop(): void } {
  let stop: () => void = () => undefined;
  const code = new Promise<number>((resolve, reject) => {
    if (target.socket.readyState === target.socket.CLOSED) return resolve(-1);
    const timer = setTimeout(() => reject(new Error('the gateway neither answered nor closed')), answerTimeoutMs);
    const onClose = (closeCode: number) => {
      clearTimeout(timer);
      resolve(closeCode);
    };
    target.socket.once('close', onClose);
    stop = () => {
      clearTimeout(timer);
      target.socket.off('close', onClose);
    };
  });
  return { code, stop };
}

/** 101 when the handshake opened a connection (closed again at once), else the refusal's HTTP status. */
function handshake(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      socket.terminate();
      resolve(response.statusCode ?? 0);
    });
    socket.once('error', reject);
  });
}

/** The connection answers a ping: still open, still routed. */
/** The routes that answer only when they refuse a frame, and their handlers. */
const answeredOnlyWhenRefused: Partial<Record<RoutedKey, FunctionName>> = {
  typing: 'wsTyping',
  ack: 'wsAck',
  read: 'wsRead',
};

/** Invocations of `name` that have finished so far. */
function finished(name: FunctionName): number {
  const count = stack.invocationCounts()[name];
  return count === undefined ? 0 : count.invocations - count.running;
}

async function expectUsable(target: ChatClient): Promise<void> {
  const pong = await target.request({ action: 'ping' }, 'pong');
  expect(pong).toEqual({ type: 'pong' });
}

/** Neither conversation's lastSeq nor its seq tickets moved since the last accepted send. */
async function expectNoMessageStored(): Promise<void> {
  expect(await sequenceMarks(), 'a refused frame moved a conversation').toEqual(marks);
}

/** Waits for the next fixed window of the per-user send limit (never more than one window). */
async function nextSendWindow(): Promise<void> {
  const windowMs = limits.sendRateLimit.windowSeconds * 1000;
  await new Promise((resolve) => setTimeout(resolve, windowMs - (Date.now() % windowMs) + 50));
}

function expectSuccessFrame(routeKey: RoutedKey, answer: Frame, sent: unknown): void {
  const frame = sent as Record<string, unknown>;
  switch (routeKey) {
    case 'sendMessage': {
      const message = answer.message as Record<string, unknown>;
      expect(answer.clientMessageId).toBe(frame.clientMessageId);
      // Identity comes from the connection, never from the frame.
      expect(message.senderId).toBe(alice.userId);
      expect(message.conversationId).toBe(frame.conversationId);
      expect(message.seq).toEqual(expect.any(Number));
      const seq = Number(message.seq);
      const group = marks[groupId] ?? { lastSeq: 0, nextSeq: 0 };
      marks = { ...marks, [groupId]: { lastSeq: Math.max(group.lastSeq, seq), nextSeq: Math.max(group.nextSeq, seq) } };
      return;
    }
    case 'editMessage':
    case 'deleteMessage':
    case 'react': {
      const message = answer.message as Record<string, unknown>;
      expect(answer.clientMessageId).toBe(frame.clientMessageId);
      expect(message.senderId).toBe(alice.userId);
      // A clientMessageId used before answers what it made, as a send's retry does.
      expect(message.conversationId).toBe(frame.conversationId);
      const seq = Number(message.seq);
      const group = marks[groupId] ?? { lastSeq: 0, nextSeq: 0 };
      marks = { ...marks, [groupId]: { lastSeq: Math.max(group.lastSeq, seq), nextSeq: Math.max(group.nextSeq, seq) } };
      return;
    }
    case 'sendMessages': {
      const messages = answer.messages as Record<string, unknown>[];
      const sentIds = (frame.messages as Record<string, unknown>[]).map((message) => message.clientMessageId);
      expect(messages.map((message) => message.clientMessageId)).toEqual(sentIds);
      for (const message of messages) {
        expect(message.senderId).toBe(alice.userId);
        expect(message.conversationId).toBe(frame.conversationId);
      }
      const seq = Math.max(...messages.map((message) => Number(message.seq)));
      const group = marks[groupId] ?? { lastSeq: 0, nextSeq: 0 };
      marks = { ...marks, [groupId]: { lastSeq: Math.max(group.lastSeq, seq), nextSeq: Math.max(group.nextSeq, seq) } };
      return;
    }
    case 'sync':
      expect(answer.delivered).toEqual(expect.any(Number));
      return;
    case 'subscribePresence':
      // Only users who share a conversation with Alice (Bob) or Alice herself are answered.
      for (const state of answer.presence as Record<string, unknown>[]) {
        expect([alice.userId, bob.userId]).toContain(state.userId);
        expect(frame.userIds).toContain(state.userId);
      }
      return;
    case 'typing':
    case 'ack':
    case 'read':
    case '$default':
      expect(answer).toEqual({ type: 'pong' });
  }
}

/**
 * Sends one frame on the fuzzed connection and holds its outcome to the contract: an answer for
 * frames within the limit (success only for valid ones), a 1009 close above it; then the
 * connection (or a new one) still works and nothing leaked into Object.prototype.
 */
async function exchange(frame: WireFrame): Promise<void> {
  if (client.socket.readyState !== client.socket.OPEN) client = await connectFuzzer();
  const { routeKey, valid } = expectationOf(frame);

  if (wireBytes(frame) > maxFrameBytes) {
    const closing = closed(client);
    send(client, frame);
    expect(await closing.code, 'an oversized frame closes with 1009').toBe(1009);
    record(routeKey, 'closed 1009');
    client = await connectFuzzer();
    await Promise.all([expectUsable(client), expectNoMessageStored()]);
    return;
  }

  const answered = client.nextFrame(
    (candidate) => !pushTypes.has(String(candidate.type)),
    `the answer to a ${routeKey} frame`,
    answerTimeoutMs,
  );
  const closing = closed(client);
  const quietHandler = answeredOnlyWhenRefused[routeKey];
  const handledBefore = quietHandler ? finished(quietHandler) : 0;
  send(client, frame);
  if (quietHandler) {
    // Answered only when refused, once its handler is done; a ping sent after that answers otherwise.
    await expect.poll(() => finished(quietHandler), { timeout: answerTimeoutMs }).toBeGreaterThan(handledBefore);
    const flushedPong = client.nextFrame((candidate) => candidate.type === 'pong', `the pong after ${routeKey}`);
    client.send({ action: 'ping' });
    // Taken here, so a refusal's pong is not left to answer the next frame.
    await flushedPong;
  }
  const answer = await Promise.race([
    answered,
    closing.code.then((code) => {
      throw new Error(`the gateway closed the connection (${code}) instead of answering`);
    }),
  ]).finally(() => closing.stop());

  if (answer.type === 'error') {
    expect(stableCodes, `error code of a ${routeKey} frame`).toContain(answer.code);
    expect(answer.message).toEqual(expect.any(String));
    // Bounded, whatever the frame held: refusals do not reflect arbitrary client text.
    expect(String(answer.message).length).toBeLessThanOrEqual(2000);
    if (!valid) expect(answer.code, 'a frame its route refuses is bad_request').toBe('bad_request');
    record(routeKey, String(answer.code));
  } else {
    expect(valid, `a ${routeKey} frame its schema refuses was answered ${JSON.stringify(answer)}`).toBe(true);
    expect(answer.type).toBe(successTypes[routeKey]);
    if (frame.kind === 'text') expectSuccessFrame(routeKey, answer, JSON.parse(frame.text));
    record(routeKey, String(answer.type));
  }
  const refusedSend =
    answer.type === 'error' &&
    ['sendMessage', 'sendMessages', 'editMessage', 'deleteMessage', 'react'].includes(routeKey);
  await Promise.all([expectUsable(client), refusedSend ? expectNoMessageStored() : undefined]);
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), 'Object.prototype was polluted').toEqual(
    prototypeKeysAtStart,
  );
}

// ---- arbitraries -------------------------------------------------------------------------------

const hostileKeys = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'action',
  'senderId',
  'userId',
  'deviceId',
  'connectionId',
  'seq',
  'type',
  'isAdmin',
  'attachmentIds',
  'cursor',
  'text',
  '',
  '\u0000',
  '😀',
] as const;

/** JSON value texts JSON.stringify would never write, or that edge every schema. */
const edgeValues = [
  'null',
  'true',
  'false',
  '0',
  '-0',
  '-1',
  '0.5',
  '1e400',
  '-1e400',
  '1e-400',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '1e308',
  '5e-324',
  // Not JSON at all: the whole frame becomes non-JSON.
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  '123456789012345678901234567890',
  '[]',
  '{}',
  '[null]',
  '""',
  '" "',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"😀"',
  '"\\u202e"',
  '"\\n\\r\\t"',
  '"../../etc/passwd"',
  '"<script>alert(1)</script>"',
  `"${'x'.repeat(128)}"`,
  `"${'x'.repeat(129)}"`,
  `"${'x'.repeat(64)}"`,
  `"${'x'.repeat(65)}"`,
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[{"__proto__":{"polluted":true}}]',
  '{"toString":1,"valueOf":2}',
] as const;

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double().map((value) => (Number.isFinite(value) ? String(value) : value > 0 ? '1e999' : '-1e999')),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

const deepNesting = fc
  .tuple(fc.integer({ min: 2, max: 4000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

/** Strings up to ~28 KB on the wire: kept under the frame limit so they reach a handler. */
const hugeString = fc
  .tuple(fc.constantFrom('a', 'é', '€', '😀', ' ', '\\u0000'), fc.integer({ min: 1000, max: 7000 }))
  .map(([unit, count]) => `"${unit.repeat(count)}"`);

const unicodeString = fc.string({ unit: 'binary', maxLength: 60 }).map((text) => JSON.stringify(text));

function hostileValue(ids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...edgeValues) },
    { weight: 2, arbitrary: fc.constantFrom(...ids.map((id) => JSON.stringify(id))) },
    // Real ids in lists: a pending attachment, repeats, ids of other kinds.
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...ids), { maxLength: 12 }).map((list) => JSON.stringify(list)) },
    { weight: 2, arbitrary: numberText },
    { weight: 2, arbitrary: unicodeString },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: hugeString },
  );
}

function mutation(ids: readonly string[]): fc.Arbitrary<Mutation> {
  return mutationOf(hostileValue(ids), hostileKeys, { min: 100, max: 20_000 });
}

/** Every action a client may name: each route of the catalog, ping, and names no route has. */
const catalogActions = webSocketRoutes.map((route) => route.routeKey);
const unknownActions = fc.oneof(
  fc.constantFrom('SENDMESSAGE', 'sendmessage', ' sendMessage', 'sendMessage\u0000', 'toString', '__proto__', 'pong'),
  fc.string({ maxLength: 20 }),
);

/** A valid frame of each action, as entries: the starting point of the field-by-field mutations. */
function validEntries(action: string, clientMessageId: string, seq: number): Entries {
  const base: Array<readonly [string, string]> = [['action', JSON.stringify(action)]];
  switch (action) {
    case 'sendMessage':
      return [
        ...base,
        ['conversationId', JSON.stringify(groupId)],
        ['clientMessageId', JSON.stringify(clientMessageId)],
        ['text', '"fuzz"'],
      ];
    case 'sendMessages':
      return [
        ...base,
        ['conversationId', JSON.stringify(groupId)],
        [
          'messages',
          JSON.stringify([
            { clientMessageId, text: 'fuzz one' },
            { clientMessageId: `${clientMessageId}-2`, text: 'fuzz two' },
          ]),
        ],
      ];
    case 'editMessage':
    case 'deleteMessage':
    case 'react':
      return [
        ...base,
        ['conversationId', JSON.stringify(groupId)],
        ['seq', String(seq)],
        ...(action === 'editMessage' ? [['text', '"fuzz edit"'] as const] : []),
        ...(action === 'react' ? [['emoji', JSON.stringify('👍')] as const] : []),
        ['clientMessageId', JSON.stringify(clientMessageId)],
      ];
    case 'ack':
    case 'read':
      return [...base, ['conversationId', JSON.stringify(groupId)], ['upToSeq', String(seq)]];
    case 'typing':
      return [...base, ['conversationId', JSON.stringify(groupId)]];
    case 'subscribePresence':
      return [...base, ['userIds', JSON.stringify([bob.userId, carol.userId])]];
    case 'sync':
      // Odd seqs continue a replay: any cursor string is the client's to send.
      return seq % 2 === 1 ? [...base, ['cursor', JSON.stringify(clientMessageId)]] : base;
    default:
      return base;
  }
}

function mutatedFrame(action: fc.Arbitrary<string>): fc.Arbitrary<WireFrame> {
  const ids = [groupId, foreignId, alice.userId, bob.userId, `${groupId}-1`, pendingAttachmentId, 'nope'];
  return fc
    .record({
      action,
      clientMessageId: fc.uuid().map((id) => `fz-${id}`),
      seq: fc.nat({ max: 5 }),
      changes: fc.array(mutation(ids), { minLength: 0, maxLength: 3 }),
    })
    .map(({ action: name, clientMessageId, seq, changes }) => ({
      kind: 'text' as const,
      text: writeEntries(changes.reduce(mutate, validEntries(name, clientMessageId, seq))),
    }));
}

// ---- the stack -----------------------------------------------------------------------------------

beforeAll(async () => {
  stack = await startTestStack('e2e-fuzz-ws');
  dynamo = createLocalDynamoDbClient(stack.dynamoEndpoint);
  documentClient = createDocumentClient(dynamo);
  [alice, bob, carol] = (await Promise.all(
    ['alice', 'bob', 'carol'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User];
  const group = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Fuzz',
    memberIds: [bob.userId],
  });
  const foreign = await api(stack.httpUrl, bob.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [carol.userId],
  });
  expect([group.status, foreign.status]).toEqual([201, 201]);
  groupId = String(group.body.id);
  foreignId = String(foreign.body.id);
  const attachment = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${groupId}/attachments`, {
    fileName: 'cat.png',
    contentType: 'image/png',
    size: 2048,
  });
  expect(attachment.status).toBe(201);
  pendingAttachmentId = String(attachment.body.attachmentId);
  marks = await sequenceMarks();
  client = await connectFuzzer();
});

afterAll(async () => {
  await client?.close();
  dynamo?.destroy();
  await stack?.stop();
});

describe('arbitrary frames', () => {
  it('fc.anything() as JSON: answered with a stable code, the connection stays usable', async () => {
    const value = fc.anything({
      key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...hostileKeys)),
      maxDepth: 3,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
    });
    await holds(
      fc.asyncProperty(value, async (anything) => {
        await exchange({ kind: 'text', text: JSON.stringify(anything) ?? String(anything) });
      }),
      120,
    );
  });

  it('fc.json(), fc.string() and raw bytes: JSON, non-JSON, binary and invalid UTF-8 frames', async () => {
    const frame: fc.Arbitrary<WireFrame> = fc.oneof(
      fc.json({ maxDepth: 4 }).map((text) => ({ kind: 'text' as const, text })),
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })),
      fc.string({ maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'binary' as const, bytes })),
    );
    await holds(
      fc.asyncProperty(frame, async (generated) => {
        await exchange(generated);
      }),
      120,
    );
  });

  it('text frames of invalid UTF-8 close the connection (1007), and a new one works', async () => {
    const invalidUtf8 = fc
      .tuple(fc.uint8Array({ maxLength: 40 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]))
      .map(([prefix, bad]) => Uint8Array.from([...prefix, ...bad]));
    await holds(
      fc.asyncProperty(invalidUtf8, async (bytes) => {
        if (client.socket.readyState !== client.socket.OPEN) client = await connectFuzzer();
        const closing = closed(client);
        send(client, { kind: 'rawText', bytes });
        expect(await closing.code).toBe(1007);
        client = await connectFuzzer();
        await expectUsable(client);
      }),
      15,
    );
  });
});

describe('valid frames mutated field by field', () => {
  const actions = [...catalogActions, 'ping'];
  // $-routes land on $default like any unknown action; sendMessage is the one that can store.
  const runsPerAction: Readonly<Record<string, number>> = {
    $connect: 30,
    $disconnect: 30,
    $default: 30,
    sendMessage: 120,
    sendMessages: 100,
    editMessage: 20,
    deleteMessage: 20,
    react: 20,
    sync: 100,
    ack: 120,
    read: 120,
    subscribePresence: 40,
    typing: 40,
    ping: 80,
  };

  it.each(actions)('%s: wrong types, huge strings, unicode, odd numbers, extra and polluting keys', async (action) => {
    // The sends before used up alice's send window; changes are charged against it too, so start a fresh one.
    if (action === 'editMessage') await nextSendWindow();
    await holds(
      fc.asyncProperty(mutatedFrame(fc.constant(action)), async (frame) => {
        await exchange(frame);
      }),
      runsPerAction[action] ?? 100,
    );
  });

  it('unknown actions: refused as bad_request on $default', async () => {
    await holds(
      fc.asyncProperty(mutatedFrame(unknownActions), async (frame) => {
        await exchange(frame);
      }),
      80,
    );
  });
});

describe('frame size', () => {
  it('frames near and above 32 KB: answered up to the limit, closed with 1009 above it, nothing stored', async () => {
    const size = fc.oneof(
      fc.integer({ min: maxFrameBytes - 64, max: maxFrameBytes + 64 }),
      fc.integer({ min: maxFrameBytes + 65, max: 200 * 1024 }),
      fc.integer({ min: 20 * 1024, max: maxFrameBytes }),
    );
    const frame = fc
      .record({
        action: fc.constantFrom('sendMessage', 'ping', 'ack', 'sync', 'read'),
        unit: fc.constantFrom('a', 'é', '€', '😀'),
        size,
        clientMessageId: fc.uuid().map((id) => `big-${id}`),
      })
      .map(({ action, unit, size: bytes, clientMessageId }): WireFrame => {
        const head = writeEntries(validEntries(action, clientMessageId, 1)).slice(0, -1);
        const field = action === 'sendMessage' ? 'text' : 'padding';
        const prefix = `${head},${JSON.stringify(field)}:"`;
        const room = bytes - Buffer.byteLength(prefix) - 2;
        const units = Math.max(0, Math.floor(room / Buffer.byteLength(unit)));
        const filler = unit.repeat(units) + 'a'.repeat(Math.max(0, room - units * Buffer.byteLength(unit)));
        return { kind: 'text', text: `${prefix}${filler}"}` };
      });
    await holds(
      fc.asyncProperty(frame, async (generated) => {
        await exchange(generated);
      }),
      50,
    );
  });
});

describe('the handshake', () => {
  it('extra query parameters (Object.prototype names, repeats, unicode): connected or refused 4xx, never 500', async () => {
    const name = fc.oneof(
      fc.constantFrom(
        'constructor',
        '__proto__',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'token',
        'deviceId',
        'ticket',
      ),
      fc.string({ maxLength: 10 }),
    );
    const value = fc.oneof(fc.constantFrom('', '1', 'x'.repeat(300)), fc.string({ unit: 'binary', maxLength: 20 }));
    await holds(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 3 }), async (extra) => {
        const query = new URLSearchParams([['token', alice.token], ['deviceId', 'handshake'], ...extra]);
        const outcome = await handshake(`${stack.wsUrl}?${query}`);
        // The extra parameters only: the message must not carry the token.
        expect([101, 400, 401, 403], `handshake with ${JSON.stringify(extra)} answered ${outcome}`).toContain(outcome);
      }),
      40,
    );
  });
});

describe('afterwards', () => {
  it('every routed key was reached, with successes and refusals alike', () => {
    const summary = Object.fromEntries([...outcomes].map(([key, counts]) => [key, Object.fromEntries(counts)]));
    if (process.env.FUZZ_VERBOSE) console.info(JSON.stringify(summary));
    for (const routeKey of routedKeys) {
      const counts = outcomes.get(routeKey) ?? new Map<string, number>();
      expect(counts.get(successTypes[routeKey]) ?? 0, `${routeKey}: ${JSON.stringify(summary)}`).toBeGreaterThan(0);
      expect(counts.get('bad_request') ?? 0, `${routeKey}: ${JSON.stringify(summary)}`).toBeGreaterThan(0);
    }
    expect(outcomes.get('sendMessage')?.get('closed 1009') ?? 0).toBeGreaterThan(0);
  });

  it('the gateway is still up: health answers, and a new connection of another user pings', async () => {
    const health = await fetch(`${stack.httpUrl}/health`);
    expect(health.status).toBe(200);
    const other = await ChatClient.connect(stack.wsUrl, bob.token, 'after-fuzz');
    await expectUsable(other);
    await other.close();
    await expectUsable(client);
    await expectNoMessageStored();
  });
});
