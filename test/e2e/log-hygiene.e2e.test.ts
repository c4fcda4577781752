/**
 * Log hygiene on the local stack at DEBUG: a realistic session (tokens and a connect ticket, live
 * and parked deliveries, sync and acks, an HTTP send, a presigned upload and a signed download,
 * refused credentials and signatures) while everything the handlers' Powertools logger and the
 * stack itself write is captured. No token, ticket, signature or message text may appear in it;
 * a sent message's correlation id must, in the send, fan-out, sync and ack lines.
 */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { api, ChatClient, type Frame, issueToken } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';
import { pngImage } from '../support/media-fixtures';
import { withAlteredParam } from '../support/signed-url';

interface User {
  token: string;
  userId: string;
}

interface LogLine {
  readonly message?: unknown;
  readonly function_name?: unknown;
  readonly correlation_id?: unknown;
}

/** Every chunk written to stdout or stderr, and every console call, while the session runs. */
const captured: string[] = [];
const restores: Array<() => void> = [];

/** Swallows what a stream is given (a DEBUG session is loud) and keeps a copy. */
function tap(stream: NodeJS.WriteStream): void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
    callback?.();
    return true;
  }) as typeof stream.write;
  restores.push(() => {
    stream.write = original;
  });
}

/** The test runner routes `console` itself; a library logging through it must be seen too. */
function tapConsole(): void {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      captured.push(`${format(...args)}\n`);
    };
    restores.push(() => {
      console[method] = original;
    });
  }
}

// Distinctive markers: if any of them shows up in a log line, message text leaked.
const run = randomUUID().slice(0, 8);
const texts = {
  websocket: `HYGIENE-TEXT-WS-${run}`,
  http: `HYGIENE-TEXT-HTTP-${run}`,
  withPhoto: `HYGIENE-TEXT-PHOTO-${run}`,
  refused: `HYGIENE-TEXT-REFUSED-${run}`,
};
const forgedToken = `eyJhbGciOiJub25lIn0.eyJzdWIiOiJIWUdJRU5FLUZPUkdFRCJ9.HYGIENE-FORGED-${run}`;

let stack: TestStack;
let alice: User;
let bob: User;
let conversationId: string;
let ticket: string;
let uploadUrl: string;
let downloadUrl: string;
let sentOverWebSocket: { id: string; seq: number };
let sentOverHttp: { id: string; seq: number };
const clients: ChatClient[] = [];
const sockets: WebSocket[] = [];

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

/** Opens a WebSocket with a connect ticket (no JWT in the URL) and answers frames like ChatClient.request. */
async function connectWithTicket(deviceId: string): Promise<WebSocket> {
  const socket = new WebSocket(`${stack.wsUrl}?ticket=${encodeURIComponent(ticket)}&deviceId=${deviceId}`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`ticket handshake refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
  sockets.push(socket);
  return socket;
}

function request(socket: WebSocket, frame: Record<string, unknown>, answerType: string): Promise<Frame> {
  return new Promise((resolve) => {
    const listener = (data: WebSocket.RawData) => {
      const answer = JSON.parse(String(data)) as Frame;
      if (answer.type !== answerType && answer.type !== 'error') return;
      socket.off('message', listener);
      resolve(answer);
    };
    socket.on('message', listener);
    socket.send(JSON.stringify(frame));
  });
}

/** Processing runs on the object-created event, after the PUT has answered: poll until it settles. */
async function readyAttachment(attachmentId: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const answer = await api(stack.httpUrl, alice.token, 'GET', `/attachments/${attachmentId}`);
    if (answer.body.status !== 'pending') return answer.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`attachment ${attachmentId} still pending`);
}

function logText(): string {
  return captured.join('');
}

/** The Powertools lines (one JSON object per line) among everything captured. */
function powertoolsLines(): LogLine[] {
  return logText()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

beforeAll(async () => {
  tap(process.stdout);
  tap(process.stderr);
  tapConsole();
  stack = await startTestStack('log-hygiene', { logLevel: 'DEBUG', metrics: true });
  [alice, bob] = (await Promise.all(['alice', 'bob'].map((name) => issueToken(stack.httpUrl, `${name}-hygiene`)))) as [
    User,
    User,
  ];

  // Bob's tablet is known and offline: it is owed the messages, which are parked for it.
  const tablet = await connect(bob, 'tablet');
  await tablet.close();
  const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [bob.userId],
  });
  expect(created.status).toBe(201);
  conversationId = String(created.body.id);

  const issued = await api(stack.httpUrl, alice.token, 'POST', '/connect-ticket');
  expect(issued.status).toBe(201);
  ticket = String(issued.body.ticket);
  const alicePhone = await connectWithTicket('phone');
  const bobPhone = await connect(bob, 'phone');

  // A live WebSocket send, delivered to Bob's phone and parked for his tablet.
  const accepted = await request(
    alicePhone,
    { action: 'sendMessage', conversationId, clientMessageId: `ws-${run}`, text: texts.websocket },
    'messageAccepted',
  );
  expect(accepted.type).toBe('messageAccepted');
  sentOverWebSocket = accepted.message as { id: string; seq: number };
  await bobPhone.waitForMessage((m) => m.id === sentOverWebSocket.id);

  // The same over HTTP.
  const posted = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/messages`, {
    clientMessageId: `http-${run}`,
    text: texts.http,
  });
  expect(posted.status).toBe(201);
  sentOverHttp = posted.body.message as { id: string; seq: number };
  await bobPhone.waitForMessage((m) => m.id === sentOverHttp.id);

  // A photo: presigned upload, processing, a message carrying it, a signed download.
  const photo = await pngImage(64, 48);
  const upload = await api(stack.httpUrl, alice.token, 'POST', `/conversations/${conversationId}/attachments`, {
    fileName: 'photo.png',
    contentType: 'image/png',
    size: photo.byteLength,
  });
  expect(upload.status).toBe(201);
  uploadUrl = String(upload.body.uploadUrl);
  const attachmentId = String(upload.body.attachmentId);
  const tampered = withAlteredParam(uploadUrl, 'X-Amz-Signature');
  expect(
    (
      await fetch(tampered, {
        method: 'PUT',
        headers: upload.body.uploadHeaders as Record<string, string>,
        body: photo,
      })
    ).ok,
  ).toBe(false);
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: upload.body.uploadHeaders as Record<string, string>,
    body: photo,
  });
  expect(put.status).toBe(200);
  const ready = await readyAttachment(attachmentId);
  expect(ready.status).toBe('ready');
  downloadUrl = String(ready.url);
  expect((await fetch(downloadUrl)).status).toBe(200);
  expect((await fetch(withAlteredParam(downloadUrl, 'Signature', 10))).status).toBe(403);
  const withPhoto = await request(
    alicePhone,
    {
      action: 'sendMessage',
      conversationId,
      clientMessageId: `photo-${run}`,
      text: texts.withPhoto,
      attachmentIds: [attachmentId],
    },
    'messageAccepted',
  );
  expect(withPhoto.type).toBe('messageAccepted');

  // Refusals: a forged JWT on the handshake and on HTTP, a reused ticket, a send to a stranger's conversation.
  await expect(ChatClient.connect(stack.wsUrl, forgedToken, 'laptop')).rejects.toThrow();
  expect((await api(stack.httpUrl, forgedToken, 'GET', `/conversations/${conversationId}`)).status).toBe(401);
  await expect(connectWithTicket('laptop')).rejects.toThrow();
  const refused = await request(
    alicePhone,
    {
      action: 'sendMessage',
      conversationId: 'no-such-conversation',
      clientMessageId: `refused-${run}`,
      text: texts.refused,
    },
    'messageAccepted',
  );
  expect(refused.type).toBe('error');

  // The tablet comes back: sync replays what was parked, acks clear it.
  const tabletAgain = await connect(bob, 'tablet');
  const synced = await tabletAgain.request({ action: 'sync' }, 'syncComplete');
  expect(synced.type).toBe('syncComplete');
  await tabletAgain.waitForMessage((m) => m.id === sentOverHttp.id);
  for (const upToSeq of [sentOverWebSocket.seq, sentOverHttp.seq]) {
    await stack.handled('wsAck', 1, () => tabletAgain.send({ action: 'ack', conversationId, upToSeq }));
  }
  expect(tabletAgain.frames.filter((frame) => frame.type === 'error')).toEqual([]);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(clients.map((client) => client.close()));
  await stack?.stop();
  for (const restore of restores.splice(0).reverse()) restore();
});

describe('log hygiene at DEBUG', () => {
  it('captured the session: the stack and the handlers both logged', () => {
    expect(logText()).toContain('[parley-local] DEBUG invocation done');
    expect(powertoolsLines().length).toBeGreaterThan(10);
  });

  it('logs no bearer token, no JWT signature and no forged token', () => {
    const text = logText();
    for (const user of [alice, bob]) {
      expect(text).not.toContain(user.token);
      expect(text).not.toContain(user.token.split('.')[2]);
    }
    expect(text).not.toContain('HYGIENE-FORGED');
    expect(text).not.toContain('Bearer ');
  });

  it('logs no connect ticket', () => {
    expect(logText()).not.toContain(ticket);
  });

  it('logs no signature of a presigned upload or a signed download', () => {
    const text = logText();
    expect(text).not.toContain('X-Amz-Signature');
    expect(text).not.toContain('Signature=');
    expect(text).not.toContain(new URL(uploadUrl).searchParams.get('X-Amz-Signature') ?? 'missing');
    expect(text).not.toContain(new URL(downloadUrl).searchParams.get('Signature') ?? 'missing');
  });

  it('logs no message text, accepted or refused', () => {
    expect(logText()).not.toContain(`HYGIENE-TEXT`);
  });

  it('follows a WebSocket-sent message by its correlation id through send, fan-out, sync and ack', () => {
    const lines = powertoolsLines().filter((line) => line.correlation_id === sentOverWebSocket.id);
    const stages = lines.map((line) => `${String(line.function_name)}: ${String(line.message)}`);

    expect(stages).toEqual(
      expect.arrayContaining([
        'parley-local-wsSendMessage: message accepted',
        'parley-local-streamFanOut: message fanned out',
        'parley-local-wsSync: replayed from inbox',
        'parley-local-wsAck: inbox acked',
      ]),
    );
  });

  it('names an HTTP-sent message in the fan-out and sync lines too', () => {
    const stages = powertoolsLines()
      .filter((line) => line.correlation_id === sentOverHttp.id)
      .map((line) => `${String(line.function_name)}: ${String(line.message)}`);

    expect(stages).toEqual(
      expect.arrayContaining([
        'parley-local-streamFanOut: message fanned out',
        'parley-local-wsSync: replayed from inbox',
      ]),
    );
  });
});
