/**
 * Connect tickets on the local stack: `POST /connect-ticket` (JWT in the Authorization header)
 * answers a ticket that opens one WebSocket as its user, once, for seconds; the table holds only
 * its hash. `?token=` keeps working for non-browser clients.
 */
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { hashConnectTicket } from '#shared/auth/connect-tickets';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { limits } from '#shared/config/limits';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { api, ChatClient, handshakeStatus, issueToken, openSocket } from '../support/chat-client';
import { startTestStack, type TestStack } from '../support/local-stack';

interface User {
  readonly token: string;
  readonly userId: string;
}

let stack: TestStack;
let documentClient: ReturnType<typeof createDocumentClient>;
let ann: User;
let ben: User;
let conversationId: string;
const clients: ChatClient[] = [];

async function newTicket(user: User): Promise<{ ticket: string; expiresAt: string }> {
  const answer = await api(stack.httpUrl, user.token, 'POST', '/connect-ticket');
  expect(answer.status).toBe(201);
  return answer.body as { ticket: string; expiresAt: string };
}

const open = (query: string) => openSocket(`${stack.wsUrl}?${query}`);
const openedStatus = (query: string) => handshakeStatus(`${stack.wsUrl}?${query}`);

/** The first frame the socket receives that matches. */
function nextFrame(socket: WebSocket, predicate: (frame: Record<string, unknown>) => boolean) {
  return new Promise<Record<string, unknown>>((resolve) => {
    const listener = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      if (!predicate(frame)) return;
      socket.off('message', listener);
      resolve(frame);
    };
    socket.on('message', listener);
  });
}

beforeAll(async () => {
  stack = await startTestStack('e2e-connect-ticket');
  documentClient = createDocumentClient(createLocalDynamoDbClient(stack.dynamoEndpoint));
  [ann, ben] = await Promise.all([issueToken(stack.httpUrl, 'ann'), issueToken(stack.httpUrl, 'ben')]);
  const created = await api(stack.httpUrl, ann.token, 'POST', '/conversations', {
    type: 'direct',
    memberIds: [ben.userId],
  });
  conversationId = String(created.body.id);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  documentClient?.destroy();
  await stack?.stop();
});

describe('POST /connect-ticket', () => {
  it(`answers a 256-bit base64url ticket that expires in ${limits.connectTicketTtlSeconds} seconds`, async () => {
    const requestedAt = Date.now();
    const { ticket, expiresAt } = await newTicket(ann);
    const answeredAt = Date.now();

    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The server's clock read falls between the two; the expiry is whole seconds, rounded down.
    expect(Date.parse(expiresAt) - requestedAt).toBeGreaterThan((limits.connectTicketTtlSeconds - 2) * 1000);
    expect(Date.parse(expiresAt) - answeredAt).toBeLessThanOrEqual(limits.connectTicketTtlSeconds * 1000);
  });

  it('stores the ticket only as its hash', async () => {
    const { ticket } = await newTicket(ann);

    const stored = await documentClient.send(new ScanCommand({ TableName: stack.tables.connectTickets.tableName }));

    expect(stored.Items?.map((item) => item.ticketHash)).toContain(hashConnectTicket(ticket));
    expect(JSON.stringify(stored.Items)).not.toContain(ticket);
  });

  it('requires a bearer token like every route', async () => {
    expect((await api(stack.httpUrl, undefined, 'POST', '/connect-ticket')).status).toBe(401);
  });
});

describe('$connect with a ticket', () => {
  it("opens a connection that acts as the ticket's user, for the device named in the URL", async () => {
    const { ticket } = await newTicket(ann);
    const { socket: laptop } = await open(`ticket=${ticket}&deviceId=laptop`);
    if (laptop === undefined) throw new Error('ticket handshake refused');
    const benPhone = await ChatClient.connect(stack.wsUrl, ben.token, 'phone');
    clients.push(benPhone);

    const answered = nextFrame(laptop, (frame) => frame.clientMessageId === 'via-ticket');
    laptop.send(
      JSON.stringify({
        action: 'sendMessage',
        conversationId,
        clientMessageId: 'via-ticket',
        text: 'sent over a ticket connection',
      }),
    );
    const accepted = await answered;
    const delivered = await benPhone.waitForMessage((message) => message.text === 'sent over a ticket connection');

    expect(accepted).toMatchObject({ type: 'messageAccepted', message: { senderId: ann.userId } });
    expect(delivered).toMatchObject({ message: { senderId: ann.userId, text: 'sent over a ticket connection' } });
    expect(await stack.connectionIdOf(ann.userId, 'laptop')).toEqual(expect.any(String));
    laptop.close();
  });

  it('opens one connection only: the second use is refused with 401', async () => {
    const { ticket } = await newTicket(ann);

    const first = await openedStatus(`ticket=${ticket}&deviceId=tablet`);
    const second = await openedStatus(`ticket=${ticket}&deviceId=tablet`);

    expect([first, second]).toEqual([101, 401]);
  });

  it('lets exactly one of several handshakes racing with the same ticket through', async () => {
    const { ticket } = await newTicket(ann);

    const statuses = await Promise.all(
      Array.from({ length: 5 }, (_, i) => openedStatus(`ticket=${ticket}&deviceId=race-${i}`)),
    );

    expect(statuses.filter((status) => status === 101)).toHaveLength(1);
    expect(statuses.filter((status) => status === 401)).toHaveLength(4);
  });

  it('refuses an expired ticket and an unknown one with 401', async () => {
    const expired = 'E'.repeat(43);
    await documentClient.send(
      new PutCommand({
        TableName: stack.tables.connectTickets.tableName,
        Item: {
          ticketHash: hashConnectTicket(expired),
          userId: ann.userId,
          expiresAt: Math.floor(Date.now() / 1000) - 1,
        },
      }),
    );

    expect(await openedStatus(`ticket=${expired}&deviceId=phone`)).toBe(401);
    expect(await openedStatus(`ticket=${'U'.repeat(43)}&deviceId=phone`)).toBe(401);
    expect(await openedStatus('ticket=short&deviceId=phone')).toBe(401);
  });

  it('does not spend a ticket on a handshake refused for its device id', async () => {
    const { ticket } = await newTicket(ann);

    const withoutDevice = await openedStatus(`ticket=${ticket}`);
    const badDevice = await openedStatus(`ticket=${ticket}&deviceId=${encodeURIComponent('no/slashes')}`);
    const thenValid = await openedStatus(`ticket=${ticket}&deviceId=desk`);

    expect([withoutDevice, badDevice, thenValid]).toEqual([401, 401, 101]);
  });
});

describe('$connect with a token (the non-browser fallback)', () => {
  it('still opens a connection', async () => {
    const phone = await ChatClient.connect(stack.wsUrl, ann.token, 'cli');
    clients.push(phone);

    expect(await phone.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });
});
