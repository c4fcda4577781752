/**
 * Property-based fuzzing of every HTTP route on the local stack (fast-check, fixed seed): arbitrary
 * path parameters, query strings, bodies (valid ones mutated field by field, JSON, non-JSON, bytes,
 * huge) and content types, with a real token. No answer is a 500; each status is one the route's
 * contract declares; every refusal carries `{error:{code,message}}` with a stable code matching
 * its status; a request its contract's schemas refuse is never answered 2xx. Without a valid
 * token every route answers API Gateway's 401. FUZZ_SEED and FUZZ_RUNS (a multiplier) replay or widen a run.
 */
import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRoutes } from '#shared/config/functions';
import { errorCodes } from '#shared/errors';
import {
  type HttpFunctionName,
  httpContract,
  type ResponseContract,
  type RouteContract,
} from '#shared/protocol/http-contract';
import { apiGatewayErrorSchema, errorBodySchema } from '#shared/protocol/http-responses';
import { compileRoute, httpBodyLimitBytes, matchRoute } from '../../local/http-gateway';
import { api, issueToken } from '../support/chat-client';
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

type User = { token: string; userId: string };
type Route = (typeof httpRoutes)[number];
type RouteFunction = Route['function'];
/** Ordered entries of key and raw JSON value text, so `__proto__`, duplicates and 1e400 reach the wire. */

interface FuzzRequest {
  /** Raw path segments (already percent-encoded, or deliberately malformed) by parameter name. */
  readonly segments: Readonly<Record<string, string>>;
  /** The raw query string, without `?`; empty for none. */
  readonly query: string;
  readonly body?: Uint8Array;
  readonly contentType?: string;
  readonly auth: Auth;
}

/** How a request authenticates, as a label: the header is made at send time, so a report never prints a token. */
type Auth =
  | 'token'
  | 'none'
  | 'empty'
  | 'bearerOnly'
  | 'bearerSpace'
  | 'basic'
  | 'algNone'
  | 'tampered'
  | 'unsigned'
  | 'lowercaseDoubleSpace'
  | { readonly garbage: string };

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly contentType: string | undefined;
}

/** The ids a route's path parameters are drawn from, besides arbitrary strings. */
interface Fixture {
  readonly groupId: string;
  readonly directId: string;
  readonly messageId: string;
  readonly attachmentId: string;
}

const stableCodes = Object.keys(errorCodes).filter((code) => code !== 'internal');
const maxMessageLength = 2000;
const compiledRoutes = httpRoutes.map(compileRoute);
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

let stack: TestStack;
let host: { hostname: string; port: number };
let alice: User;
let bob: User;
let carol: User;
/** Deletes itself on DELETE /users/{id}; nobody else is the caller there. */
let zed: User;
/** The caller on POST /conversations: its creations spend its own 10-minute budget, not Alice's, who builds fixtures. */
let maker: User;
let directId: string;
/** Shared by the routes that cannot take a member away; removing participants gets a group of its own. */
let sharedFixture: Fixture;
/** route -> status -> count, printed with FUZZ_VERBOSE: proves each route was reached both ways. */
const outcomes = new Map<string, Map<number, number>>();

// ---- the wire ------------------------------------------------------------------------------------

function authorizationHeader(auth: Auth, token: string): string | undefined {
  if (typeof auth === 'object') return `Bearer ${auth.garbage}`;
  switch (auth) {
    case 'token':
      return `Bearer ${token}`;
    case 'none':
      return undefined;
    case 'empty':
      return '';
    case 'bearerOnly':
      return 'Bearer';
    case 'bearerSpace':
      return 'Bearer ';
    case 'basic':
      return 'Basic YWxpY2U6c2VjcmV0';
    case 'algNone':
      return 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.';
    case 'tampered':
      return `Bearer ${token}x`;
    case 'unsigned':
      return `Bearer ${token.split('.').slice(0, 2).join('.')}.`;
    case 'lowercaseDoubleSpace':
      return `bearer  ${token}`;
  }
}

function send(method: string, path: string, fuzz: FuzzRequest, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    const authorization = authorizationHeader(fuzz.auth, token);
    if (authorization !== undefined) headers.authorization = authorization;
    if (fuzz.contentType !== undefined) headers['content-type'] = fuzz.contentType;
    if (fuzz.body !== undefined) headers['content-length'] = fuzz.body.length;
    const outgoing = httpRequest({ ...host, method, path, headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          contentType: response.headers['content-type'],
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(fuzz.body === undefined ? undefined : Buffer.from(fuzz.body));
  });
}

function pathOf(route: Route, segments: Readonly<Record<string, string>>): string {
  return route.path.replace(/\{(\w+)\}/g, (_template, name: string) => segments[name] ?? 'missing');
}

/** Query parameters as API Gateway passes them (payload 2.0): own keys, repeated names comma-joined. */
function apiGatewayQuery(rawQuery: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    const joined = Object.hasOwn(query, name) ? `${query[name]},${value}` : value;
    Object.defineProperty(query, name, { value: joined, enumerable: true, writable: true, configurable: true });
  }
  return query;
}

/** Does the request pass every input schema the route's contract names (path, query, body)? */
function passesContractInputs(
  functionName: HttpFunctionName,
  pathParameters: Record<string, string>,
  rawQuery: string,
  body: Uint8Array | undefined,
): boolean {
  const contract: RouteContract = httpContract[functionName];
  if (contract.path !== undefined && !contract.path.safeParse(pathParameters).success) return false;
  if (contract.query !== undefined && !contract.query.safeParse(apiGatewayQuery(rawQuery)).success) return false;
  if (contract.body === undefined) return true;
  const text = body === undefined ? '' : Buffer.from(body).toString('utf8');
  const parsed = text === '' ? undefined : parsedOrUndefined(text);
  return parsed !== undefined && contract.body.safeParse(parsed.value).success;
}

function record(functionName: string, status: number): void {
  const counts = outcomes.get(functionName) ?? new Map<number, number>();
  counts.set(status, (counts.get(status) ?? 0) + 1);
  outcomes.set(functionName, counts);
}

/**
 * Sends one fuzzed request to the route and holds the answer to its contract: never 500, a declared
 * status, the error body with a stable code matching the status, a schema-valid success body, and no
 * success for input the contract's schemas refuse.
 */
async function exchange(route: Route, fuzz: FuzzRequest, caller: User): Promise<Answer> {
  const callerId = caller.userId;
  const path = `${pathOf(route, fuzz.segments)}${fuzz.query === '' ? '' : `?${fuzz.query}`}`;
  const url = new URL(path, 'http://local');
  const match = matchRoute(compiledRoutes, route.method, url.pathname);
  // Dot segments and the like resolve to another path before routing: not this route's input.
  fc.pre(match?.route.function === route.function);
  const functionName: HttpFunctionName = route.function;
  const valid = passesContractInputs(functionName, match?.pathParameters ?? {}, url.search.slice(1), fuzz.body);

  const answer = await send(route.method, path, fuzz, caller.token);
  record(functionName, answer.status);
  const where = `${route.method} ${path} answered ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, where).not.toBe(500);
  const declared: Readonly<Partial<Record<number, ResponseContract>>> = httpContract[functionName].responses;
  const response = declared[answer.status];
  expect(response, `${where}: a status the contract does not declare`).toBeDefined();
  const body = answer.text === '' ? undefined : parsedOrUndefined(answer.text);
  if (response?.body === undefined) {
    expect(answer.text, `${where}: a body its contract does not have`).toBe('');
  } else {
    expect(body, `${where}: not JSON`).toBeDefined();
    const parsed = response.body.safeParse(body?.value);
    expect(parsed.error?.issues ?? [], `${where}: body off its schema`).toEqual([]);
    // Parsing drops the fields a schema does not name: equal means the answer has none.
    expect(parsed.data, `${where}: fields its schema does not name`).toEqual(body?.value);
  }
  // 401 is API Gateway's own answer, before the handler; every other refusal is the handler's.
  if (answer.status >= 400 && answer.status !== 401) {
    const refusal = errorBodySchema.safeParse(body?.value);
    expect(refusal.success, `${where}: not the error body`).toBe(true);
    const code = refusal.data?.error.code ?? 'internal';
    expect(stableCodes, where).toContain(code);
    // Bounded, whatever the request held: refusals do not reflect arbitrary client text.
    expect(refusal.data?.error.message.length ?? 0, `${where}: message length`).toBeLessThanOrEqual(maxMessageLength);
    expect(errorCodes[code], `${where}: code and status disagree`).toBe(answer.status);
  }
  if (answer.status < 300) {
    expect(valid, `${where}: input the contract refuses was accepted`).toBe(true);
    expect(authorOf(functionName, body?.value) ?? callerId, `${where}: authored by someone else`).toBe(callerId);
  }
  return answer;
}

/** lastSeq of the conversations a send may target, read as the caller. */
async function lastSeqs(fixture: Fixture): Promise<Record<string, unknown>> {
  const read = (id: string) => api(stack.httpUrl, alice.token, 'GET', `/conversations/${id}`);
  const [group, direct] = await Promise.all([read(fixture.groupId), read(fixture.directId)]);
  return { [fixture.groupId]: group.body.lastSeq, [fixture.directId]: direct.body.lastSeq };
}

/** Who a success names as its author, where it does: always the token's user, whatever the body said. */
function authorOf(functionName: HttpFunctionName, body: unknown): unknown {
  const fields = (body ?? {}) as Record<string, unknown>;
  switch (functionName) {
    case 'httpCreateConversation':
      return fields.createdBy;
    case 'httpSendMessage':
      return (fields.message as Record<string, unknown> | undefined)?.senderId;
    case 'httpCreateUser':
    case 'httpUpdateUser':
      return fields.id;
    default:
      return undefined;
  }
}

// ---- arbitraries ---------------------------------------------------------------------------------

const hostileKeys = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'id',
  'userId',
  'createdBy',
  'senderId',
  'role',
  'seq',
  'lastSeq',
  'deleted',
  'status',
  'poster',
  'attachmentIds',
  'historyVisibility',
  '',
  '😀',
] as const;

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
  '9007199254740991',
  '9007199254740993',
  '1e308',
  // Not JSON at all: the whole body becomes non-JSON.
  'NaN',
  'Infinity',
  'undefined',
  '[]',
  '{}',
  '[null]',
  '[""]',
  '""',
  '" "',
  '"\\u0000"',
  '"\\ud800"',
  '"😀"',
  '"\\u202e"',
  '"a@b"',
  '"+1"',
  '"+14155550123"',
  '"image/png"',
  '"video/mp4"',
  '"application/x-msdownload"',
  '"../../etc/passwd"',
  '"<script>alert(1)</script>"',
  `"${'x'.repeat(100)}"`,
  `"${'x'.repeat(101)}"`,
  `"${'x'.repeat(129)}"`,
  `"${'x'.repeat(4001)}"`,
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"contentType":"image/png","size":1}',
  `[${Array.from({ length: 101 }, (_unused, index) => `"u${index}"`).join(',')}]`,
] as const;

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double().map((value) => (Number.isFinite(value) ? String(value) : value > 0 ? '1e999' : '-1e999')),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

/** Cursors forged from the shapes the services issue (history, conversation list), then mutated. */
function forgedCursor(groupId: string): fc.Arbitrary<string> {
  const history: Entries = [
    ['conversationId', json(groupId)],
    ['direction', json('ascending')],
    ['seq', '1'],
  ];
  const list: Entries = [
    ['at', json(new Date().toISOString())],
    ['id', json(groupId)],
  ];
  return (
    fc
      .tuple(fc.constantFrom(history, list), fc.array(mutation([groupId, 'descending', '']), { maxLength: 2 }))
      .map(([base, changes]) => Buffer.from(writeEntries(changes.reduce(mutate, base))).toString('base64url'))
      // Node's 16 KB header limit (API Gateway's is 10 KB) answers 431 before any route: not what is fuzzed here.
      .filter((cursor) => cursor.length <= 2000)
  );
}

const deepNesting = fc
  .tuple(fc.integer({ min: 2, max: 5000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

const hugeString = fc
  .tuple(fc.constantFrom('a', 'é', '😀', '\\u0000'), fc.integer({ min: 1000, max: 200_000 }))
  .map(([unit, count]) => `"${unit.repeat(count)}"`);

function hostileValue(ids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...edgeValues) },
    { weight: 2, arbitrary: fc.constantFrom(...ids.map((id) => JSON.stringify(id))) },
    // Real ids in lists: the caller, repeats, deleted users, pending attachments.
    { weight: 2, arbitrary: fc.array(fc.constantFrom(...ids), { maxLength: 12 }).map((list) => JSON.stringify(list)) },
    { weight: 2, arbitrary: numberText },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((text) => JSON.stringify(text)) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: hugeString },
  );
}

function mutation(ids: readonly string[]): fc.Arbitrary<Mutation> {
  return mutationOf(hostileValue(ids), hostileKeys, { min: 1_000, max: 200_000 });
}

const json = (value: unknown) => JSON.stringify(value);

/** A valid body of each route with a body, as entries: the start of the field-by-field mutations. */
function validBody(functionName: RouteFunction, unique: string): Entries {
  switch (functionName) {
    case 'httpCreateConversation':
      return [
        ['type', json('group')],
        ['name', json('Fuzzed')],
        ['memberIds', json([bob.userId])],
        ['historyVisibility', json('all')],
      ];
    case 'httpUpdateConversation':
      return [['name', json(`Renamed ${unique}`)]];
    case 'httpAddParticipants':
      return [['userIds', json([carol.userId])]];
    case 'httpSendMessage':
      return [
        ['clientMessageId', json(`fz-${unique}`)],
        ['text', json('fuzz')],
      ];
    case 'httpCreateUser':
      return [
        ['name', json('Fuzz')],
        ['username', json(`fz_${unique.slice(0, 20)}`)],
        ['email', json('fuzz@example.com')],
      ];
    case 'httpUpdateUser':
      return [
        ['name', json('Alice F')],
        ['readReceipts', 'false'],
      ];
    case 'httpCreateAttachment':
      return [
        ['fileName', json('cat.png')],
        ['contentType', json('image/png')],
        ['size', '2048'],
      ];
    default:
      // Routes without a body get one anyway: they must ignore it.
      return [['text', json('ignored')]];
  }
}

const contentTypes = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=fuzz',
    'application/octet-stream',
    'application/xml',
    'image/png',
    'application/json; charset=latin1',
    '',
    ';;;',
  ),
  { nil: undefined },
);

const rawBody = (text: string) => new TextEncoder().encode(text);

function bodyArbitrary(functionName: RouteFunction, ids: readonly string[]) {
  const mutated = fc
    .record({ unique: fc.uuid(), changes: fc.array(mutation(ids), { maxLength: 3 }) })
    .map(({ unique, changes }) => {
      const base = validBody(functionName, unique.replaceAll('-', ''));
      return rawBody(writeEntries(changes.reduce(mutate, base)));
    });
  const anything = fc.anything({ maxDepth: 3, key: fc.oneof(fc.string(), fc.constantFrom(...hostileKeys)) });
  return fc.oneof(
    { weight: 8, arbitrary: mutated },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map(rawBody) },
    { weight: 1, arbitrary: anything.map((value) => rawBody(JSON.stringify(value) ?? 'undefined')) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map(rawBody) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 20, max: 5000 })
        .map((count) =>
          rawBody(JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_v, i) => [`k${i}`, i])))),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 100_000, max: 1_000_000 }).map((size) => rawBody(`{"text":"${'a'.repeat(size)}"}`)),
    },
  );
}

/** Raw path segments: the real ids the route takes, percent-encoded arbitrary strings, and malformed encodings. */
function segmentArbitrary(name: string, realIds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...realIds.map(encodeURIComponent)) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%',
        '%zz',
        '%E0%A4%A',
        '%C0%AF',
        '%00',
        '%2F',
        'a%2F..%2Fb',
        '%2e%2e%2fusers',
        '__proto__',
        'constructor',
        'toString',
        'x'.repeat(128),
        'x'.repeat(129),
        'x'.repeat(3000),
        `${name}%20with%20spaces`,
        '%F0%9F%98%80',
        'a.b:c_d-e',
        '-1',
        '0',
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@-]{1,60}$/) },
  );
}

/** Query strings: the route's own parameters with edge values and forged cursors, unknown names, repeats, raw bytes. */
function queryArbitrary(groupId: string): fc.Arbitrary<string> {
  const name = fc.oneof(
    fc.constantFrom('limit', 'cursor', 'after', 'before', 'afer', '__proto__', 'constructor', 'toString', ''),
    fc.string({ maxLength: 10 }),
  );
  const value = fc.oneof(
    fc.constantFrom(
      '1',
      '0',
      '-1',
      '100',
      '101',
      '999',
      '1000',
      '1e3',
      '0x10',
      ' 7',
      '',
      '9007199254740993',
      '1.5',
      'abc',
      'eyJ4IjoxfQ',
      'a'.repeat(301),
      'a'.repeat(401),
    ),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
  const pairs = fc.array(fc.tuple(name, value), { maxLength: 4 });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: pairs.map((list) => new URLSearchParams(list).toString()) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(forgedCursor(groupId), fc.option(fc.constantFrom('limit=1', 'limit=100', 'after=1')))
        .map(([cursor, extra]) => `cursor=${cursor}${extra === null ? '' : `&${extra}`}`),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9%=&;+._~-]{0,80}$/) },
  );
}

function requestArbitrary(route: Route, fixture: Fixture): fc.Arbitrary<FuzzRequest> {
  const userIds = [alice.userId, bob.userId, carol.userId, zed.userId];
  const conversationIds = [fixture.groupId, fixture.directId];
  const idsFor = (name: string): readonly string[] => {
    if (name === 'userId' || route.path.startsWith('/users/')) return userIds;
    if (route.path.startsWith('/messages/'))
      return [fixture.messageId, `${fixture.groupId}-999`, `${fixture.groupId}-0`, `${fixture.groupId}-1e0`];
    if (route.path.startsWith('/attachments/')) return [fixture.attachmentId];
    return conversationIds;
  };
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((found) => found[1] ?? '');
  const segments = fc.record(Object.fromEntries(names.map((name) => [name, segmentArbitrary(name, idsFor(name))])));
  const ids = [...userIds, ...conversationIds, fixture.messageId, fixture.attachmentId];
  return fc.record({
    segments,
    query: queryArbitrary(fixture.groupId),
    body: bodyArbitrary(route.function, ids),
    contentType: contentTypes,
    auth: fc.constant<Auth>('token'),
  });
}

// ---- the stack -----------------------------------------------------------------------------------

/** A group of Alice (admin), Bob and Carol with one message and one attachment: each route fuzzes its own. */
async function freshFixture(): Promise<Fixture> {
  const group = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Fuzz',
    memberIds: [bob.userId, carol.userId],
  });
  expect(group.status).toBe(201);
  const groupId = String(group.body.id);
  const sent = await api(stack.httpUrl, bob.token, 'POST', `/conversations/${groupId}/messages`, {
    clientMessageId: 'fixture',
    text: 'hello',
  });
  expect(sent.status).toBe(201);
  const attachment = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${groupId}/attachments`, {
    fileName: 'cat.png',
    contentType: 'image/png',
    size: 2048,
  });
  expect(attachment.status).toBe(201);
  return {
    groupId,
    directId,
    messageId: String((sent.body.message as Record<string, unknown>).id),
    attachmentId: String(attachment.body.attachmentId),
  };
}

beforeAll(async () => {
  stack = await startTestStack('e2e-fuzz-http');
  const url = new URL(stack.httpUrl);
  host = { hostname: url.hostname, port: Number(url.port) };
  [alice, bob, carol, zed, maker] = (await Promise.all(
    ['alice', 'bob', 'carol', 'zed', 'maker'].map((name) => issueToken(stack.httpUrl, name)),
  )) as [User, User, User, User, User];
  for (const [user, username] of [
    [alice, 'alice'],
    [bob, 'bob'],
    [zed, 'zed'],
  ] as const) {
    const created = await api(stack.httpUrl, user.token, 'POST', '/users', { name: username, username });
    expect(created.status).toBe(201);
  }
  const direct = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  expect(direct.status).toBe(201);
  directId = String(direct.body.id);
  sharedFixture = await freshFixture();
});

afterAll(async () => {
  if (process.env.FUZZ_VERBOSE) {
    const summary = Object.fromEntries([...outcomes].map(([name, counts]) => [name, Object.fromEntries(counts)]));
    console.info(JSON.stringify(summary));
  }
  agent.destroy();
  await stack?.stop();
});

describe('every route, with a valid token', () => {
  it.each(httpRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s: arbitrary path, query, body and content type; never 500, declared statuses, stable codes',
    async (_name, route) => {
      const fixture = route.function === 'httpRemoveParticipant' ? await freshFixture() : sharedFixture;
      // Alice would delete herself, or spend the creations her fixtures need: those routes have callers of their own.
      const caller =
        route.function === 'httpDeleteUser' ? zed : route.function === 'httpCreateConversation' ? maker : alice;
      // Sends: a refused one stores nothing, so lastSeq moves only with accepted ones.
      const sends = route.function === 'httpSendMessage';
      let expectedSeqs = sends ? await lastSeqs(fixture) : {};
      await holds(
        fc.asyncProperty(requestArbitrary(route, fixture), async (fuzz) => {
          const answer = await exchange(route, fuzz, caller);
          if (!sends) return;
          if (answer.status < 300) expectedSeqs = await lastSeqs(fixture);
          else expect(await lastSeqs(fixture), 'a refused send moved lastSeq').toEqual(expectedSeqs);
        }),
        50,
      );
    },
  );
});

describe('query names that Object.prototype also has', () => {
  // API Gateway passes them as plain keys, so the strict query schemas must see and refuse them.
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    '?%s=1 is refused (400) where the query is strict',
    async (name) => {
      const strictQuery = (route: Route) => {
        const contract: RouteContract = httpContract[route.function];
        return contract.query !== undefined;
      };
      for (const route of httpRoutes.filter(strictQuery)) {
        const segments = { id: route.path.startsWith('/users/') ? alice.userId : sharedFixture.groupId };
        await exchange(route, { segments, query: `${name}=1`, auth: 'token' }, alice);
      }
    },
  );
});

describe('without a valid token', () => {
  it('every route answers 401 with API Gateway’s body, whatever else the request holds', async () => {
    const fixture = sharedFixture;
    const refusedAuth: fc.Arbitrary<Auth> = fc.oneof(
      fc.constantFrom<Auth>(
        'none',
        'empty',
        'bearerOnly',
        'bearerSpace',
        'basic',
        'algNone',
        'tampered',
        'unsigned',
        'lowercaseDoubleSpace',
      ),
      fc.string({ maxLength: 200 }).map((text): Auth => ({ garbage: text.replace(/[^\x21-\x7e]/g, '') })),
    );
    await holds(
      fc.asyncProperty(
        fc
          .constantFrom(...httpRoutes)
          .chain((route) =>
            fc.record({ route: fc.constant(route), request: requestArbitrary(route, fixture), auth: refusedAuth }),
          ),
        async ({ route, request, auth }) => {
          const fuzz: FuzzRequest = { ...request, auth };
          const path = `${pathOf(route, fuzz.segments)}${fuzz.query === '' ? '' : `?${fuzz.query}`}`;
          fc.pre(matchRoute(compiledRoutes, route.method, new URL(path, 'http://local').pathname) !== undefined);
          const answer = await send(route.method, path, fuzz, alice.token);
          expect(answer.status, `${route.method} ${path} with ${JSON.stringify(auth)}`).toBe(401);
          expect(apiGatewayErrorSchema.safeParse(parsedOrUndefined(answer.text)?.value).success).toBe(true);
        },
      ),
      100,
    );
  });
});

describe('bodies over API Gateway’s 10 MB limit', () => {
  it.each(httpRoutes.filter((route) => route.method !== 'GET').map((route) => [route.function, route] as const))(
    '%s: 413 before any handler runs',
    async (_name, route) => {
      const fixture = sharedFixture;
      const segments = Object.fromEntries(
        [...route.path.matchAll(/\{(\w+)\}/g)].map((found) => [
          found[1] ?? '',
          found[1] === 'userId' ? alice.userId : route.path.startsWith('/users/') ? alice.userId : fixture.groupId,
        ]),
      );
      const body = new Uint8Array(httpBodyLimitBytes + 1).fill(0x20);
      const fuzz: FuzzRequest = { segments, query: '', body, contentType: 'application/json', auth: 'token' };
      const answer = await send(route.method, pathOf(route, segments), fuzz, alice.token).catch((error: unknown) => ({
        status: -1,
        text: String(error),
        contentType: undefined,
      }));
      expect(answer.status, answer.text).toBe(413);
      expect(apiGatewayErrorSchema.safeParse(parsedOrUndefined(answer.text)?.value).success).toBe(true);
    },
  );
});
