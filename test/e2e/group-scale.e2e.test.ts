/**
 * A full group end to end on the local stack: 100 members, 30 of them online on two devices each
 * (60 live WebSocket clients), the other 70 offline with one device each that has been seen before.
 * Five messages go out from one online device, with a member removed between the third and the
 * fourth; then a new device pages history and a member added late joins.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ChatClient, type Frame, issueToken, type MessageFrame } from '../support/chat-client';
import { startTestStack, type TestStack, wireRepeatsAllowed } from '../support/local-stack';

interface User {
  readonly name: string;
  readonly token: string;
  readonly userId: string;
}

interface OnlineMember {
  readonly user: User;
  readonly devices: readonly ChatClient[];
}

type WireMessage = MessageFrame['message'] & {
  type?: string;
  event?: { kind: string; userId?: string; userIds?: string[] };
};

const GROUP_SIZE = 100;
const ONLINE_MEMBERS = 30;
const ONLINE_DEVICE_IDS = ['phone', 'laptop'] as const;
const OFFLINE_DEVICE_ID = 'tablet';
const MESSAGES = 5;
const REMOVE_AFTER_MESSAGE = 3;
/** Sockets opened (or pinged) at once, so 130 handshakes do not all land together on a busy machine. */
const bounded = pLimit(10);

let stack: TestStack;
let conversationId: string;
let admin: User;
let online: OnlineMember[];
let offline: User[];
let sender: ChatClient;
let removedMember: OnlineMember;
const clients: ChatClient[] = [];
/** Resolved unless a test holds fan-out back, as a stream running behind would. */
let fanOutHeld: Promise<void> = Promise.resolve();
let releaseFanOut = () => {};

/** Runs `act` with fan-out held back, and releases it whatever happens. */
async function whileFanOutHeld<T>(act: () => Promise<T>): Promise<T> {
  fanOutHeld = new Promise((resolve) => {
    releaseFanOut = resolve;
  });
  try {
    return await act();
  } finally {
    releaseFanOut();
  }
}

const seqsFrom = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

function inBoundedParallel<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  return Promise.all(items.map((item) => bounded(() => task(item))));
}

async function newUser(name: string): Promise<User> {
  return { name, ...(await issueToken(stack.httpUrl, name)) };
}

async function connect(user: User, deviceId: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack.wsUrl, user.token, deviceId);
  clients.push(client);
  return client;
}

const labelOf = (client: ChatClient, owner: User) => `${owner.name}/${client.deviceId}`;

let retriesReported = false;

/**
 * The conversation's messages as the client received them. Fan-out is at-least-once: a batch that fails
 * part-way is retried from its first failed record, and the posts it had already made are made again
 * (clients drop ids they hold). So raw frames must be exactly once while no stream batch has failed;
 * only after one are repeats of an id set aside.
 */
function messagesOf(client: ChatClient): WireMessage[] {
  const messages = client.frames
    .filter((frame): frame is Frame & MessageFrame => frame.type === 'message')
    .map((frame) => frame.message as WireMessage)
    .filter((message) => message.conversationId === conversationId);
  const repeatsAllowed = wireRepeatsAllowed(stack);
  if (repeatsAllowed === undefined) return messages;
  if (!retriesReported) console.warn(`[group-scale] repeats of an id set aside: ${repeatsAllowed}`);
  retriesReported = true;
  const seen = new Set<string>();
  return messages.filter((message) => !seen.has(message.id) && seen.add(message.id));
}

async function conversationAs(user: User): Promise<Record<string, unknown>> {
  const answer = await api(stack.httpUrl, user.token, 'GET', `/conversations/${conversationId}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

/**
 * Waits until the stream poller has finished fan-out of every stored message (every post made),
 * then pings each client: its pong comes after anything already written to its socket.
 */
async function settle(observed: readonly ChatClient[]): Promise<number> {
  const lastSeq = Number((await conversationAs(admin)).lastSeq);
  // Polled by hand: expect.poll is not available in hooks, where the scenario runs.
  const deadline = Date.now() + 15_000;
  while (stack.streamStats.records < lastSeq) {
    if (Date.now() > deadline) throw new Error(`fan-out did not finish: ${stack.streamStats.records}/${lastSeq}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await inBoundedParallel(observed, (client) => client.request({ action: 'ping' }, 'pong'));
  return lastSeq;
}

/** Newest first, `limit` at a time, following cursors; bounded so a cursor that never ends fails. */
async function pageHistory(user: User, limit: number): Promise<WireMessage[]> {
  const messages: WireMessage[] = [];
  let query: string | undefined = `limit=${limit}`;
  for (let page = 0; query !== undefined && page < 100; page++) {
    const answer = await api(stack.httpUrl, user.token, 'GET', `/conversations/${conversationId}/messages?${query}`);
    expect(answer.status).toBe(200);
    messages.push(...(answer.body.messages as WireMessage[]));
    const cursor = answer.body.cursor;
    query = typeof cursor === 'string' ? `cursor=${cursor}&limit=${limit}` : undefined;
  }
  return messages;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

beforeAll(async () => {
  stack = await startTestStack('e2e-group-scale', {
    handlerOverrides: {
      // The real fan-out handler behind a gate; imported on first use, once the stack has set its environment.
      streamFanOut: async (event, context) => {
        await fanOutHeld;
        const { handler } = await import('../../lambdas/stream-fan-out');
        return handler(event as DynamoDBStreamEvent, context);
      },
    },
  });
  const members = await inBoundedParallel(seqsFrom(0, GROUP_SIZE - 1), (i) => newUser(`member-${i}`));
  [admin] = members as [User];
  offline = members.slice(ONLINE_MEMBERS);
  // Offline devices are seen once before the group exists, so everything they are owed is parked.
  await inBoundedParallel(offline, async (user) => {
    const device = await ChatClient.connect(stack.wsUrl, user.token, OFFLINE_DEVICE_ID);
    await device.close();
  });
  online = await inBoundedParallel(members.slice(0, ONLINE_MEMBERS), async (user) => ({
    user,
    devices: await Promise.all(ONLINE_DEVICE_IDS.map((deviceId) => connect(user, deviceId))),
  }));
  sender = online[1]?.devices[0] as ChatClient;
  removedMember = online[2] as OnlineMember;

  const created = await api(stack.httpUrl, admin.token, 'POST', '/conversations', {
    type: 'group',
    name: 'Everyone',
    memberIds: members.slice(1).map((user) => user.userId),
  });
  expect(created).toMatchObject({ status: 201, body: { memberCount: GROUP_SIZE, historyVisibility: 'joined' } });
  conversationId = String(created.body.id);
  await Promise.all(clients.map((client) => client.waitForMessage((m) => m.conversationId === conversationId)));
}, 240_000);

afterAll(async () => {
  await inBoundedParallel(clients, (client) => client.close());
  await stack?.stop();
});

describe(`${MESSAGES} messages from one device, a member removed after the ${REMOVE_AFTER_MESSAGE}rd`, () => {
  const sent: WireMessage[] = [];
  let removalSeq: number;
  let lastSeq: number;

  const liveDevices = () => online.flatMap((member) => member.devices);
  const removedDevices = () => removedMember.devices;

  async function removeMidStream(): Promise<void> {
    const removal = await api(
      stack.httpUrl,
      admin.token,
      'DELETE',
      `/conversations/${conversationId}/participants/${removedMember.user.userId}`,
    );
    expect(removal.status).toBe(204);
    const isRemoval = (m: WireMessage) => m.event?.kind === 'memberRemoved';
    const events = await Promise.all(liveDevices().map((client) => client.waitForMessage(isRemoval, 'removal')));
    removalSeq = Number((events[0]?.message as WireMessage | undefined)?.seq);
  }

  beforeAll(async () => {
    const fanOutMs: number[] = [];
    const acceptedMs: number[] = [];
    for (let i = 1; i <= MESSAGES; i++) {
      if (i === REMOVE_AFTER_MESSAGE + 1) await removeMidStream();
      const receivers = liveDevices().filter(
        (client) => client !== sender && (i <= REMOVE_AFTER_MESSAGE || !removedDevices().includes(client)),
      );
      const text = `group message ${i}`;

      const startedAt = performance.now();
      const arrivals = receivers.map((client) =>
        client.waitForMessage((m) => m.text === text, text).then(() => performance.now()),
      );
      const accepted = await sender.sendMessage(conversationId, `group-${i}`, text);
      acceptedMs.push(performance.now() - startedAt);
      const arrivedAt = await Promise.all(arrivals);

      expect(accepted.type).toBe('messageAccepted');
      sent.push(accepted.message as WireMessage);
      fanOutMs.push(Math.max(...arrivedAt) - startedAt);
    }
    lastSeq = await settle(liveDevices());
    const rounded = (values: number[]) => values.map((ms) => Math.round(ms)).join(', ');
    console.log(
      `[group-scale] one group message, send → last of ${liveDevices().length - 1} live devices: ` +
        `median ${Math.round(median(fanOutMs))} ms (per message: ${rounded(fanOutMs)} ms; ` +
        `messageAccepted after ${rounded(acceptedMs)} ms)`,
    );
  }, 120_000);

  it('delivers each message live, once and in seq order, to every online device except the sending one', () => {
    const stayed = online.filter((member) => member !== removedMember);
    const everything = seqsFrom(1, lastSeq);
    const sentSeqs = sent.map((message) => message.seq);
    const expected = (client: ChatClient) =>
      client === sender ? everything.filter((seq) => !sentSeqs.includes(seq)) : everything;

    const received = stayed.flatMap((member) =>
      member.devices.map((client) => [labelOf(client, member.user), messagesOf(client).map((m) => m.seq)] as const),
    );

    expect(sent.map((message) => message.text)).toEqual(seqsFrom(1, MESSAGES).map((i) => `group message ${i}`));
    expect(sentSeqs).toEqual([...sentSeqs].sort((a, b) => a - b));
    expect(Object.fromEntries(received)).toEqual(
      Object.fromEntries(
        stayed.flatMap((member) => member.devices.map((client) => [labelOf(client, member.user), expected(client)])),
      ),
    );
    expect(stack.deadLetters).toEqual([]);
  });

  it("gives the removed member's devices the removal event and nothing after it", () => {
    const removedUserId = removedMember.user.userId;

    for (const client of removedDevices()) {
      const received = messagesOf(client);
      expect(received.map((m) => m.seq)).toEqual(seqsFrom(1, removalSeq));
      expect(received.at(-1)?.event).toMatchObject({ kind: 'memberRemoved', userId: removedUserId });
    }
    expect(lastSeq).toBeGreaterThan(removalSeq);
  });

  it('replays every message to each offline device on sync, in order', async () => {
    const replays = await inBoundedParallel(offline, async (user) => {
      const device = await ChatClient.connect(stack.wsUrl, user.token, OFFLINE_DEVICE_ID);
      const complete = await device.request({ action: 'sync' }, 'syncComplete');
      await device.close();
      return [user.name, { complete, seqs: messagesOf(device).map((m) => m.seq) }] as const;
    });

    const everything = seqsFrom(1, lastSeq);
    expect(Object.fromEntries(replays)).toEqual(
      Object.fromEntries(
        offline.map((user) => [
          user.name,
          { complete: { type: 'syncComplete', delivered: everything.length }, seqs: everything },
        ]),
      ),
    );
  }, 120_000);

  it('lets a never-seen device of a member page the whole history the member may see', async () => {
    const owner = offline[0] as User;
    const newDevice = await connect(owner, 'never-seen-before');
    const replay = await newDevice.request({ action: 'sync' }, 'syncComplete');

    const history = await pageHistory(owner, 3);

    const conversation = await conversationAs(owner);
    const self = (conversation.members as { userId: string; joinedSeq: number }[]).find(
      (m) => m.userId === owner.userId,
    );
    const floor = conversation.historyVisibility === 'all' ? 1 : (self?.joinedSeq ?? Number.NaN);
    expect(replay).toEqual({ type: 'syncComplete', delivered: 0 });
    expect(history.map((m) => m.seq)).toEqual(seqsFrom(floor, lastSeq).reverse());
    expect(history.filter((m) => m.type === 'text').map((m) => m.id)).toEqual(sent.map((m) => m.id).reverse());
  });
});

describe(`a member added after the ${MESSAGES}th message`, () => {
  it('sees history only from their join and receives the messages sent after it', async () => {
    const late = await newUser('late-joiner');
    const latePhone = await connect(late, 'phone');
    const earliest = await api(stack.httpUrl, admin.token, 'GET', `/conversations/${conversationId}/messages?after=0`);
    const firstText = (earliest.body.messages as WireMessage[]).find((m) => m.type === 'text') as WireMessage;

    const added = await api(stack.httpUrl, admin.token, 'POST', `/conversations/${conversationId}/participants`, {
      userIds: [late.userId],
    });
    const accepted = await sender.sendMessage(conversationId, 'after-the-join', 'welcome aboard');
    await latePhone.waitForMessage((m) => m.text === 'welcome aboard');
    await settle([latePhone]);
    const history = await api(stack.httpUrl, late.token, 'GET', `/conversations/${conversationId}/messages?after=0`);
    const earlier = await api(stack.httpUrl, late.token, 'GET', `/messages/${firstText.id}`);

    expect(added).toMatchObject({ status: 200, body: { memberCount: GROUP_SIZE } });
    const joinedSeq = (added.body.members as { userId: string; joinedSeq: number }[]).find(
      (m) => m.userId === late.userId,
    )?.joinedSeq;
    const welcome = accepted.message as WireMessage;
    expect(welcome.seq).toBe(Number(joinedSeq) + 1);
    // The join event goes by the stream, the welcome directly: the wire may swap them (the SDK orders).
    const live = messagesOf(latePhone).sort((a, b) => a.seq - b.seq);
    expect(live.map((m) => m.seq)).toEqual([joinedSeq, welcome.seq]);
    expect(live[0]?.event).toMatchObject({ kind: 'membersAdded', userIds: [late.userId] });
    expect(history).toEqual({ status: 200, body: { messages: live } });
    expect(earlier).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'Message not found' } } });
  });
});

describe('a member removed while fan-out is running behind', () => {
  it('still gets, on every device, the message sent just before the removal', async () => {
    const leaving = online[3] as OnlineMember;
    const isTheirRemoval = (m: WireMessage) =>
      m.event?.kind === 'memberRemoved' && m.event.userId === leaving.user.userId;

    const { accepted, removal } = await whileFanOutHeld(async () => ({
      accepted: await sender.sendMessage(conversationId, 'just-before', 'just before the removal'),
      removal: await api(
        stack.httpUrl,
        admin.token,
        'DELETE',
        `/conversations/${conversationId}/participants/${leaving.user.userId}`,
      ),
    }));
    await Promise.all(leaving.devices.map((client) => client.waitForMessage(isTheirRemoval, 'their removal')));
    await settle(leaving.devices);

    expect(removal.status).toBe(204);
    const lastWords = accepted.message as WireMessage;
    for (const client of leaving.devices) {
      const lastTwo = messagesOf(client).slice(-2);
      expect(lastTwo.map((m) => `${client.deviceId}: seq ${m.seq}`)).toEqual([
        `${client.deviceId}: seq ${lastWords.seq}`,
        `${client.deviceId}: seq ${lastWords.seq + 1}`,
      ]);
    }
  });
});
