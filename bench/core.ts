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
import { startDynamoDbCallCounter } from './dynamodb-call-counter';

const quick = process.argv.includes('--quick');
const latencyMessages = quick ? 50 : 200;
const throughputPairs = Number(process.env.BENCH_PAIRS ?? (quick ? 10 : 40));
const throughputSeconds = quick ? 10 : 30;
const inFlightPerSender = Number(process.env.BENCH_IN_FLIGHT ?? 1);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = await startDynamoDbLocal({ port: 0 });
const counter = await startDynamoDbCallCounter(dynamo.endpoint);
const stack = await startLocalStack({ dynamoEndpoint: counter.endpoint, httpPort: 0, wsPort: 0, logLevel: 'ERROR' });
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

  // 3: throughput with every message checked on arrival.
  const pairs = await Promise.all(Array.from({ length: throughputPairs }, (_, i) => pair(`tp-${i}`)));
  const started = performance.now();
  const deadline = started + throughputSeconds * 1000;
  let sent = 0;
  await Promise.all(
    pairs.flatMap((p, pairIndex) =>
      Array.from({ length: inFlightPerSender }, async (_, lane) => {
        for (let i = 0; performance.now() < deadline; i++) {
          const answer = await p.sender.sendMessage(
            p.conversationId,
            `tp-${pairIndex}-${lane}-${i}`,
            `tp ${lane}-${i}`,
          );
          if (answer.type === 'messageAccepted') sent++;
        }
      }),
    ),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  await waitUntil(
    () =>
      pairs.every(
        (p) => p.receiver.messages().length >= p.sender.frames.filter((f) => f.type === 'messageAccepted').length,
      ),
    30_000,
  );
  const deliveredSeconds = (performance.now() - started) / 1000;
  const delivered = pairs.reduce((sum, p) => sum + new Set(p.receiver.messages().map((m) => m.id)).size, 0);
  const outOfOrder = pairs.filter((p) => {
    const seqs = p.receiver.messages().map((m) => m.seq);
    return seqs.some((seq, i) => i > 0 && seq <= (seqs[i - 1] as number));
  }).length;

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
  const perMessage = Object.fromEntries(
    Object.entries(calls)
      .filter(([operation]) => !operation.startsWith('Streams.'))
      .map(([operation, n]) => [operation, round(n / latencyMessages)]),
  );
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
    dynamoDbCallsPer1to1Message: perMessage,
    dynamoDbCallsPer1to1MessageTotal: round(Object.values(perMessage).reduce((a, b) => a + b, 0)),
    fanOutInvocationsPerMessage: round(fanOutInvocations / latencyMessages),
    throughput: {
      pairs: throughputPairs,
      sendersInFlight: throughputPairs * inFlightPerSender,
      sent,
      delivered,
      lost: sent - delivered,
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
