/**
 * `npm run bench`: the core messaging path on the local stack, measured (not asserted).
 * 1. 1:1 latency: Alice sends, Bob's device receives; 200 messages one after another.
 * 2. DynamoDB calls per 1:1 message, by operation, counted at the wire.
 * 3. Throughput: many pairs sending at once for a fixed time; every message checked on arrival.
 * Prints a table and writes a JSON result under bench-results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { startLocalStack } from '../local/stack';
import { api, ChatClient } from '../test/support/chat-client';
import { type OperationTally, startDynamoDbCallCounter } from './dynamodb-call-counter';

const quick = process.argv.includes('--quick');
const latencyMessages = quick ? 50 : 200;
const groupMessages = quick ? 5 : 20;
const groupSize = 100;
const groupOnlineShare = 0.3;
const throughputPairs = Number(process.env.BENCH_PAIRS ?? (quick ? 10 : 40));
const throughputSeconds = quick ? 10 : 30;
const inFlightPerSender = Number(process.env.BENCH_IN_FLIGHT ?? 1);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = await startDynamoDbLocal({ port: 0 });
const counter = await startDynamoDbCallCounter(dynamo.endpoint);
const stack = await startLocalStack({
  dynamoEndpoint: counter.endpoint,
  httpPort: 0,
  wsPort: 0,
  s3Port: 0,
  cdnPort: 0,
  logLevel: 'ERROR',
});
const clients: ChatClient[] = [];

try {
  const pair = async (label: string) => {
    const [alice, bob] = await Promise.all([stack.issueToken(`a-${label}`), stack.issueToken(`b-${label}`)]);
    const created = await api(stack.httpUrl, alice.token, 'POST', '/conversations', {
      type: 'direct',
      memberIds: [bob.userId],
    });
    const sender = await ChatClient.connect(stack.wsUrl, alice.token, 'phone');
    const receiver = await ChatClient.connect(stack.wsUrl, bob.token, 'laptop');
    clients.push(sender, receiver);
    return { conversationId: String(created.body.id), sender, receiver };
  };

  // 1 + 2: sequential 1:1 sends, latency from the send to the recipient's frame.
  const solo = await pair('latency');
  for (let i = 0; i < 10; i++) await roundTrip(solo, `warm-${i}`);
  counter.reset();
  const invocationsBefore = stack.streamStats.batches;
  const latencies: number[] = [];
  for (let i = 0; i < latencyMessages; i++) latencies.push(await roundTrip(solo, `lat-${i}`));
  const calls = counter.snapshot();
  const fanOutInvocations = stack.streamStats.batches - invocationsBefore;

  // Receipts: the recipient acks each message (delivered), then reads it; counted per acknowledgement.
  const receiptRounds = quick ? 10 : 50;
  const acked = await measureReceipts(solo, 'ack', 'acked', receiptRounds);
  const read = await measureReceipts(solo, 'read', 'readAcked', receiptRounds);

  // Group: one member sends; 30% of members online on two devices, the rest offline (one known device).
  const group = await groupScene();
  counter.reset();
  const groupFanOutMs: number[] = [];
  for (let i = 0; i < groupMessages; i++) groupFanOutMs.push(await groupRoundTrip(group, `group-${i}`));
  const groupCalls = counter.snapshot();
  const groupPosts = group.receivers.reduce((sum, client) => sum + client.messages().length, 0);

  // 3: throughput with every message checked on arrival.
  const pairs = await Promise.all(Array.from({ length: throughputPairs }, (_, i) => pair(`tp-${i}`)));
  const started = performance.now();
  const deadline = started + throughputSeconds * 1000;
  await Promise.all(
    pairs.flatMap((p, pairIndex) =>
      Array.from({ length: inFlightPerSender }, async (_, lane) => {
        for (let i = 0; performance.now() < deadline; i++) {
          await p.sender.sendMessage(p.conversationId, `tp-${pairIndex}-${lane}-${i}`, `tp ${lane}-${i}`);
        }
      }),
    ),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  const acceptedBy = (p: (typeof pairs)[number]) => p.sender.frames.filter((f) => f.type === 'messageAccepted').length;
  const sent = pairs.reduce((sum, p) => sum + acceptedBy(p), 0);
  const sendErrors = pairs.flatMap((p) => p.sender.frames.filter((f) => f.type === 'error'));
  // Only this workload's messages count (a conversation's creation event may also arrive live).
  const workload = (p: (typeof pairs)[number]) => p.receiver.messages().filter((m) => m.text.startsWith('tp '));
  await waitUntil(() => pairs.every((p) => workload(p).length >= acceptedBy(p)), 30_000);
  const deliveredSeconds = (performance.now() - started) / 1000;
  const delivered = pairs.reduce((sum, p) => sum + new Set(workload(p).map((m) => m.id)).size, 0);
  const outOfOrder = pairs.filter((p) => {
    const seqs = workload(p).map((m) => m.seq);
    return seqs.some((seq, i) => i > 0 && seq <= (seqs[i - 1] as number));
  }).length;

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
  const groupSorted = [...groupFanOutMs].sort((a, b) => a - b);
  const result = {
    when: new Date().toISOString(),
    quick,
    latency1to1Ms: {
      messages: latencyMessages,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      max: round(sorted.at(-1) as number),
    },
    dynamoDbPer1to1Message: perMessage(calls, latencyMessages),
    fanOutInvocationsPer1to1Message: round(fanOutInvocations / latencyMessages),
    postsPer1to1Message: round(
      solo.receiver.messages().filter((m) => m.text.startsWith('lat-')).length / latencyMessages,
    ),
    receipts: { perAck: acked, perRead: read },
    group: {
      members: groupSize,
      onlineDevices: group.receivers.length + 1,
      offlineDevices: group.offlineDevices,
      messages: groupMessages,
      fanOutToLastLiveDeviceMs: {
        p50: round(groupSorted[Math.floor(groupSorted.length / 2)] as number),
        max: round(groupSorted.at(-1) as number),
      },
      dynamoDbPerMessage: perMessage(groupCalls, groupMessages),
      postsPerMessage: round(groupPosts / groupMessages),
    },
    throughput: {
      pairs: throughputPairs,
      sendersInFlight: throughputPairs * inFlightPerSender,
      sent,
      delivered,
      lost: sent - delivered,
      sendErrors: sendErrors.length,
      sendErrorCodes: [...new Set(sendErrors.map((f) => String(f.code)))],
      outOfOrderConversations: outOfOrder,
      messagesPerSecond: round(sent / sendSeconds),
      deliveredWithinSeconds: round(deliveredSeconds),
    },
  };
  mkdirSync('bench-results', { recursive: true });
  const path = `bench-results/core-${result.when.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  console.log(`result: ${path}`);
} finally {
  await Promise.all(clients.map((client) => client.close()));
  await stack.stop();
  await counter.close();
  await dynamo.stop();
}

async function groupScene() {
  const members = await Promise.all(Array.from({ length: groupSize }, (_, i) => stack.issueToken(`member-${i}`)));
  const [creator, ...others] = members as [(typeof members)[number], ...typeof members];
  const created = await api(stack.httpUrl, creator.token, 'POST', '/conversations', {
    type: 'group',
    name: 'bench',
    memberIds: others.map((member) => member.userId),
  });
  const conversationId = String(created.body.id);
  const online = members.slice(0, Math.round(groupSize * groupOnlineShare));
  const offline = members.slice(online.length);
  // Offline members have a device the backend knows (it connected once), so messages are parked for it.
  for (const member of offline) await (await ChatClient.connect(stack.wsUrl, member.token, 'tablet')).close();
  const devices: ChatClient[] = [];
  for (const member of online) {
    for (const deviceId of ['phone', 'laptop'])
      devices.push(await ChatClient.connect(stack.wsUrl, member.token, deviceId));
  }
  clients.push(...devices);
  const [sender, ...receivers] = devices as [ChatClient, ...ChatClient[]];
  return { conversationId, sender, receivers, offlineDevices: offline.length };
}

/**
 * Sends one message, then has the recipient acknowledge it (`ack` or `read`), `rounds` times; DynamoDB
 * calls and units, and receipt frames pushed, are counted for the acknowledgements alone.
 */
async function measureReceipts(
  p: { conversationId: string; sender: ChatClient; receiver: ChatClient },
  action: 'ack' | 'read',
  answer: string,
  rounds: number,
) {
  let tallies: Record<string, OperationTally> = {};
  const receiptsBefore = p.sender.frames.filter((f) => f.type === 'receipt').length;
  for (let i = 0; i < rounds; i++) {
    const accepted = await p.sender.sendMessage(p.conversationId, `${action}-${i}`, `${action}-${i}`);
    const seq = (accepted.message as { seq: number }).seq;
    await p.receiver.waitForMessage((m) => m.seq === seq);
    counter.reset();
    await p.receiver.request({ action, conversationId: p.conversationId, upToSeq: seq }, answer);
    tallies = addTallies(tallies, counter.snapshot());
  }
  // Receipt posts finish before the acknowledgement is answered; a ping flushes the sender's socket.
  await p.sender.request({ action: 'ping' }, 'pong');
  const receiptPosts = p.sender.frames.filter((f) => f.type === 'receipt').length - receiptsBefore;
  return { ...perMessage(tallies, rounds), receiptPostsToSender: round(receiptPosts / rounds) };
}

function addTallies(a: Record<string, OperationTally>, b: Record<string, OperationTally>) {
  const sum: Record<string, OperationTally> = structuredClone(a);
  for (const [operation, t] of Object.entries(b)) {
    const into = sum[operation] ?? { calls: 0, readUnits: 0, writeUnits: 0 };
    sum[operation] = {
      calls: into.calls + t.calls,
      readUnits: into.readUnits + t.readUnits,
      writeUnits: into.writeUnits + t.writeUnits,
    };
  }
  return sum;
}

/** Time from the send until the last live device has the message. */
async function groupRoundTrip(
  group: { conversationId: string; sender: ChatClient; receivers: ChatClient[] },
  id: string,
): Promise<number> {
  const started = performance.now();
  const arrivals = group.receivers.map((client) =>
    client.nextFrame(
      (f) => f.type === 'message' && (f.message as { clientMessageId?: string }).clientMessageId === id,
      id,
    ),
  );
  group.sender.send({ action: 'sendMessage', conversationId: group.conversationId, clientMessageId: id, text: id });
  await Promise.all(arrivals);
  return performance.now() - started;
}

/** Calls and units per message, by operation and in total (stream reads are free on AWS and left out). */
function perMessage(tallies: Record<string, OperationTally>, messages: number) {
  const operations = Object.entries(tallies).filter(([operation]) => !operation.startsWith('Streams.'));
  const byOperation = Object.fromEntries(
    operations.map(([operation, t]) => [
      operation,
      {
        calls: round(t.calls / messages),
        readUnits: round(t.readUnits / messages),
        writeUnits: round(t.writeUnits / messages),
      },
    ]),
  );
  const sum = (pick: (t: OperationTally) => number) =>
    round(operations.reduce((total, [, t]) => total + pick(t), 0) / messages);
  return {
    calls: sum((t) => t.calls),
    readUnits: sum((t) => t.readUnits),
    writeUnits: sum((t) => t.writeUnits),
    byOperation,
  };
}

async function roundTrip(
  p: { conversationId: string; sender: ChatClient; receiver: ChatClient },
  id: string,
): Promise<number> {
  const started = performance.now();
  const arrived = p.receiver.nextFrame(
    (f) => f.type === 'message' && (f.message as { clientMessageId?: string }).clientMessageId === id,
    id,
  );
  p.sender.send({ action: 'sendMessage', conversationId: p.conversationId, clientMessageId: id, text: id });
  await arrived;
  return performance.now() - started;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
