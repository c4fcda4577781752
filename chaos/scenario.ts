/**
 * The chaos scenario: users with two devices each (the real client SDK), 1:1 chats and groups, many
 * messages, while the stack cuts connections (with and without `$disconnect`), answers postToConnection
 * with 410 or 500, fails the fan-out on flaky records and always on one poison record, delivers stream
 * batches twice and restarts DynamoDB Local (data kept on disk). Then faults stop and it checks that
 * every device holds every message of its conversations once, in seq order, that no inbox item is left,
 * and that the poison sits in the dead letters until `npm run redrive` delivers it to every device.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { limits } from '#shared/config/limits';
import type { Message } from '../client/index';
import { createLocalDynamoDbClient } from '../local/aws-local';
import { type LocalStack, startLocalStack } from '../local/stack';
import { ChaosDevice } from './device';
import { createFanOutFaults, flakyMarker, poisonMarker, textOf } from './fan-out-faults';
import { type Random, seededRandom } from './random';
import type { ChaosSettings } from './settings';

/** The figures `npm run chaos` prints as one JSON line. */
export interface ChaosReport {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly mode: ChaosSettings['name'];
  readonly seed: number;
  readonly sent: number;
  /** Messages (history, voids excluded) of a device's conversations missing from its SDK cache. */
  readonly lost: number;
  /** The same message emitted or cached twice on one device, after the SDK's dedupe. */
  readonly duplicated: number;
  /** `message` frames a device received for a message it had already received. */
  readonly duplicatesBeforeDedupe: number;
  readonly outOfOrder: number;
  readonly faults: Readonly<Record<string, number>>;
  /** Inbox items left once every device synced and acked after the faults. */
  readonly inboxLeft: number;
  /** Left after the acks of the run itself, before that last sync (stale copies of acked messages). */
  readonly inboxLeftBeforeResync: number;
  /** Of those, items for messages their device does not hold. */
  readonly inboxItemsForMissingMessages: number;
  readonly poison: {
    readonly deadLettered: boolean;
    /** Recipient devices holding the poison before the redrive (caught up from history after a reconnect). */
    readonly heldBeforeRedrive: number;
    readonly redriven: boolean;
    readonly recipients: number;
    /** Recipient devices that received the redriven frame and hold the message. */
    readonly reachedByRedrive: number;
  };
  readonly deadLetters: number;
  readonly sendsFailed: number;
  /** Errors the SDKs reported, by kind and code (faults cause many: informational). */
  readonly clientErrors: Readonly<Record<string, number>>;
  /** Gaps the SDK gave up filling (its `gap_unfilled` errors). */
  readonly gapsUnfilled: number;
  readonly users: number;
  readonly devices: number;
  readonly conversations: number;
  readonly historyMessages: number;
  readonly stream: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export interface ChaosRunOptions {
  readonly settings: ChaosSettings;
  /** Progress lines (stderr in `npm run chaos`). */
  readonly log: (line: string) => void;
  readonly keepData?: boolean;
  /** Fail on any inbox item left after the run's acks, before the devices' next sync. */
  readonly strictInbox?: boolean;
}

interface Conversation {
  readonly id: string;
  readonly kind: 'direct' | 'group' | 'poison';
  readonly members: readonly string[];
}

interface PlannedSend {
  readonly conversation: Conversation;
  readonly device: ChaosDevice;
  readonly text: string;
}

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const { settings, log } = options;
  const startedAt = performance.now();
  // Separate streams: the plan stays the same whatever the fault dice did.
  const random = seededRandom(settings.seed);
  const faultRandom = seededRandom(settings.seed ^ 0x5eed_f00d);
  const fanOutFaults = createFanOutFaults(faultRandom.next, 0);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  const stack = await startLocalStack({
    dataDir,
    dynamoPort: 0,
    httpPort: 0,
    wsPort: 0,
    s3Port: 0,
    cdnPort: 0,
    logLevel: 'SILENT',
    faults: { random: faultRandom.next },
    handlerOverrides: { streamFanOut: fanOutFaults.handler },
  });
  const devices: ChaosDevice[] = [];
  try {
    log(`stack up (data in ${dataDir}); ${settings.users} users, ${settings.users * settings.devicesPerUser} devices`);
    const usersDevices = await connectDevices(stack, settings, devices);
    const conversations = await createConversations(settings, random, usersDevices);
    await waitFor(
      'every device has every conversation',
      120_000,
      log,
      () =>
        devices.filter((device) =>
          conversationsOf(conversations, device).some((c) => device.client.messages(c.id).length === 0),
        ).length,
    );
    log(`${conversations.length} conversations ready`);

    const faults = stack.faults;
    if (faults === undefined) throw new Error('The stack was started without fault controls');
    const counters = { drops: 0, dropsWithoutDisconnect: 0 };
    Object.assign(faults.settings, {
      postGone: settings.postGone,
      postError: settings.postError,
      postErrorAfterDelivery: settings.postErrorAfterDelivery,
      duplicateBatch: settings.duplicateBatch,
    });
    fanOutFaults.flakyFailure = settings.flakyFailure;

    const plan = planSends(settings, random, conversations, usersDevices);
    const poisonIndex = Math.floor(settings.messages / 2);
    const poisonConversation = conversations.find((c) => c.kind === 'poison');
    if (poisonConversation === undefined) throw new Error('No poison conversation');
    const poisonSender = usersDevices.get(random.pick(poisonConversation.members))?.[0];
    if (poisonSender === undefined) throw new Error('No device for the poison sender');
    const restartAt = new Set(
      Array.from({ length: settings.dynamoRestarts }, (_, i) =>
        Math.floor(((i + 1) * settings.messages) / (settings.dynamoRestarts + 1)),
      ),
    );

    let sending = true;
    const restarts: Promise<void>[] = [];
    const dropper = dropConnections(stack, random, settings.dropEveryMs, () => sending, counters, devices);
    const accepted: Message[] = [];
    let sendsFailed = 0;
    let poisonMessage: Message | undefined;
    let lastProgressAt = Date.now();
    // Sends awaiting their answer, for the diagnosis when sending stalls.
    const pendingSends = new Map<number, PlannedSend & { readonly since: number }>();
    const limit = pLimit(settings.sendConcurrency);
    const sendOne = async (index: number, planned: PlannedSend): Promise<void> => {
      if (restartAt.has(index)) {
        log(`message ${index}: restarting DynamoDB Local`);
        restarts.push(
          faults
            .restartDynamoDb({ downMs: settings.dynamoDownMs })
            .then(() => log('DynamoDB Local is back'))
            .catch((error: unknown) => log(`DynamoDB restart failed: ${String(error)}`)),
        );
      }
      pendingSends.set(index, { ...planned, since: Date.now() });
      try {
        const message = await planned.device.client.send(planned.conversation.id, { text: planned.text }).accepted;
        pendingSends.delete(index);
        lastProgressAt = Date.now();
        accepted.push(message);
        if (planned.conversation.kind === 'poison') poisonMessage = message;
      } catch (error) {
        pendingSends.delete(index);
        sendsFailed += 1;
        log(`send ${index} failed: ${String(error)}`);
      }
      const done = accepted.length + sendsFailed;
      if (done % Math.max(1, Math.floor(settings.messages / 20)) === 0) {
        const seconds = (performance.now() - sendingStartedAt) / 1000;
        log(`${done} of ${settings.messages} messages answered (${(done / seconds).toFixed(1)}/s)`);
      }
    };
    const sendingStartedAt = performance.now();
    const sends = plan.map((planned, index) =>
      limit(() =>
        sendOne(
          index,
          index === poisonIndex
            ? { conversation: poisonConversation, device: poisonSender, text: `${poisonMarker} chaos poison` }
            : planned,
        ),
      ),
    );
    const sendsSettled = await settleUnlessStalled(Promise.all(sends), () => lastProgressAt, settings.settleTimeoutMs);
    if (!sendsSettled) {
      log(`sending stalled: ${JSON.stringify(describeStall(pendingSends, devices))}`);
      // Nothing more goes out: the checks below count what was sent until the stall.
      limit.clearQueue();
    }
    sending = false;
    await dropper;
    await Promise.all(restarts);
    Object.assign(faults.settings, { postGone: 0, postError: 0, postErrorAfterDelivery: 0, duplicateBatch: 0 });
    fanOutFaults.flakyFailure = 0;
    log(`sending done (${accepted.length} accepted, ${sendsFailed} failed); faults off, settling`);

    const failures: string[] = [];
    if (!sendsSettled) failures.push(`sends made no progress for ${settings.settleTimeoutMs} ms`);
    if (sendsFailed > 0) failures.push(`${sendsFailed} sends were refused`);

    // The poison: dead-lettered once its retries ran out.
    const poisonLetter = (): boolean =>
      stack.deadLetters.some((letter) => letter.source === 'stream' && textOf(letter.record).includes(poisonMarker));
    if (poisonMessage !== undefined) {
      await waitFor('the poison record in the dead letters', 120_000, log, () => (poisonLetter() ? 0 : 1));
    }
    const poisonDeadLettered = poisonLetter();
    if (!poisonDeadLettered) failures.push('the poison record never reached the dead letters');

    // Everything but the poison converges without help: pushes, inbox syncs, gap fills and catch-ups.
    let history = await readHistories(conversations, usersDevices);
    const isPoison = (message: Message): boolean =>
      poisonMessage !== undefined &&
      message.conversationId === poisonMessage.conversationId &&
      message.seq === poisonMessage.seq;
    await waitFor('every device to hold every message', settings.settleTimeoutMs, log, () =>
      countMissing(devices, conversations, history, (message) => !isPoison(message)),
    );

    const poisonRecipients =
      poisonMessage === undefined
        ? []
        : devices.filter(
            (device) =>
              poisonConversation.members.includes(device.userId) &&
              !(device.userId === poisonSender.userId && device.deviceId === poisonSender.deviceId),
          );
    const heldBeforeRedrive = poisonRecipients.filter((device) => holds(device, poisonMessage)).length;
    const framesBefore = new Map(
      poisonRecipients.map((device) => [
        device,
        poisonMessage ? device.framesOf(poisonMessage.conversationId, poisonMessage.seq) : 0,
      ]),
    );

    // The fix is "deploy the real handler": the redrive runs this checkout's handler in another process.
    log('redriving the dead letters');
    const redrive = await runRedrive(dataDir);
    log(`redrive: ${redrive.line}`);
    const redriven = redrive.exitCode === 0 && redrive.redriven >= 1;
    if (!redriven) failures.push(`the redrive failed (exit ${redrive.exitCode}): ${redrive.line}`);
    await waitFor(
      'the redriven poison on every recipient device',
      60_000,
      log,
      () =>
        poisonRecipients.filter(
          (device) =>
            poisonMessage === undefined ||
            !holds(device, poisonMessage) ||
            device.framesOf(poisonMessage.conversationId, poisonMessage.seq) <= (framesBefore.get(device) ?? 0),
        ).length,
    );
    const reachedByRedrive = poisonRecipients.filter(
      (device) =>
        poisonMessage !== undefined &&
        holds(device, poisonMessage) &&
        device.framesOf(poisonMessage.conversationId, poisonMessage.seq) > (framesBefore.get(device) ?? 0),
    ).length;
    if (poisonMessage === undefined) failures.push('the poison message was never accepted');
    else if (reachedByRedrive < poisonRecipients.length) {
      failures.push(`the redriven poison reached ${reachedByRedrive} of ${poisonRecipients.length} devices`);
    }

    // Counted before anything else reconnects: a message must arrive without help from a later sync.
    history = await readHistories(conversations, usersDevices);
    const lost = countMissing(devices, conversations, history, () => true);
    if (lost > 0) failures.push(`${lost} messages missing from device caches`);

    // Acks empty every inbox. Left items are told apart: a stale copy of a message the device holds and
    // acked (a retried fan-out re-parked it: see docs/operations.md), or one the device lacks (a loss).
    const inboxLeftBeforeResync = await waitFor(
      'every inbox to be empty',
      10_000,
      log,
      async () => (await inboxItems(stack)).length,
    );
    const leftovers = describeLeftovers(await inboxItems(stack), devices);
    const inboxItemsForMissingMessages = leftovers.filter((item) => !item.held).length;
    if (leftovers.length > 0) log(`inbox items left after acks: ${JSON.stringify(leftovers.slice(0, 10))}`);
    if (inboxItemsForMissingMessages > 0) {
      failures.push(`${inboxItemsForMissingMessages} inbox items left for messages their device lacks`);
    }
    if (options.strictInbox === true && inboxLeftBeforeResync > 0) {
      failures.push(`${inboxLeftBeforeResync} inbox items left after acks (before the devices' next sync)`);
    }
    // Every device reconnects once, as an app does on its next start: its sync replays what is parked and acks it.
    for (const id of stack.connectionIds()) stack.dropConnection(id, { notify: true });
    await waitFor(
      'every device to reconnect and sync',
      60_000,
      log,
      () => devices.filter((device) => device.client.state !== 'connected').length,
    );
    const inboxLeft = await waitFor(
      'every inbox to be empty after the sync',
      30_000,
      log,
      async () => (await inboxItems(stack)).length,
    );
    if (inboxLeft > 0) failures.push(`${inboxLeft} inbox items left after the devices synced and acked`);

    // Duplicates and order include the replays of that last sync.
    const { duplicated, outOfOrder } = countVisibleFaults(devices, conversations);
    const duplicatesBeforeDedupe = devices.reduce(
      (sum, device) => sum + [...device.frames.values()].reduce((n, frames) => n + Math.max(0, frames - 1), 0),
      0,
    );
    if (duplicated > 0) failures.push(`${duplicated} messages seen twice after dedupe`);
    if (outOfOrder > 0) failures.push(`${outOfOrder} messages out of seq order`);

    const streamStats = stack.streamStats;
    const report: ChaosReport = {
      ok: failures.length === 0,
      failures,
      mode: settings.name,
      seed: settings.seed,
      sent: accepted.length,
      lost,
      duplicated,
      duplicatesBeforeDedupe,
      outOfOrder,
      faults: {
        connectionDrops: counters.drops,
        connectionDropsWithoutDisconnect: counters.dropsWithoutDisconnect,
        postGone410: faults.counts.postGone,
        postError500: faults.counts.postError,
        fanOutFailures: fanOutFaults.counts.flakyFailures,
        poisonFailures: fanOutFaults.counts.poisonFailures,
        duplicateBatches: faults.counts.duplicateBatch,
        dynamoDbRestarts: faults.counts.dynamoDbRestarts,
      },
      inboxLeft,
      inboxLeftBeforeResync,
      inboxItemsForMissingMessages,
      poison: {
        deadLettered: poisonDeadLettered,
        heldBeforeRedrive,
        redriven,
        recipients: poisonRecipients.length,
        reachedByRedrive,
      },
      deadLetters: stack.deadLetters.length,
      sendsFailed,
      clientErrors: tallyErrors(devices),
      gapsUnfilled: devices.reduce(
        (sum, device) => sum + (device.errors.get('ParleyClientError:gap_unfilled') ?? 0),
        0,
      ),
      users: settings.users,
      devices: devices.length,
      conversations: conversations.length,
      historyMessages: [...history.values()].reduce((sum, messages) => sum + messages.length, 0),
      stream: {
        batches: streamStats.batches,
        retries: streamStats.retries,
        failedBatches: streamStats.failedBatches,
        outageRetries: streamStats.outageRetries,
        deadLettered: streamStats.deadLettered,
      },
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
    return report;
  } finally {
    await Promise.all(devices.map((device) => device.client.close()));
    await stack.stop();
    if (options.keepData !== true) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function connectDevices(
  stack: LocalStack,
  settings: ChaosSettings,
  devices: ChaosDevice[],
): Promise<Map<string, ChaosDevice[]>> {
  const byUser = new Map<string, ChaosDevice[]>();
  const connectLimit = pLimit(8);
  await Promise.all(
    Array.from({ length: settings.users }, (_, u) =>
      connectLimit(async () => {
        const { token, userId } = await stack.issueToken(`chaos-u${u}`);
        const own = Array.from(
          { length: settings.devicesPerUser },
          (_, d) => new ChaosDevice(userId, `u${u}-d${d}`, token, stack),
        );
        devices.push(...own);
        byUser.set(userId, own);
        await Promise.all(own.map((device) => device.client.connect()));
      }),
    ),
  );
  return byUser;
}

async function createConversations(
  settings: ChaosSettings,
  random: Random,
  usersDevices: ReadonlyMap<string, readonly ChaosDevice[]>,
): Promise<Conversation[]> {
  const userIds = [...usersDevices.keys()].sort();
  const specs: { kind: Conversation['kind']; members: string[] }[] = [];
  const pairs = new Set<string>();
  const wantedPairs = Math.min(
    Math.round((settings.users * settings.directPerUser) / 2),
    (userIds.length * (userIds.length - 1)) / 2,
  );
  while (pairs.size < wantedPairs) {
    const [a, b] = random.shuffle(userIds).slice(0, 2).sort();
    if (a === undefined || b === undefined || pairs.has(`${a} ${b}`)) continue;
    pairs.add(`${a} ${b}`);
    specs.push({ kind: 'direct', members: [a, b] });
  }
  for (let g = 0; g < settings.groups; g++) {
    const size = Math.min(userIds.length, random.int(settings.groupSize.min, settings.groupSize.max));
    specs.push({ kind: 'group', members: random.shuffle(userIds).slice(0, size) });
  }
  specs.push({ kind: 'poison', members: random.shuffle(userIds).slice(0, 3) });

  const createLimit = pLimit(4);
  return Promise.all(
    specs.map((spec, index) =>
      createLimit(async (): Promise<Conversation> => {
        const [creator, ...others] = spec.members;
        const creatorDevice = creator === undefined ? undefined : usersDevices.get(creator)?.[0];
        if (creatorDevice === undefined) throw new Error('A conversation without a creator device');
        const view = await retry(() =>
          creatorDevice.client.api.createConversation(
            spec.kind === 'direct'
              ? { type: 'direct', memberIds: others }
              : { type: 'group', name: `chaos ${spec.kind} ${index}`, memberIds: others },
          ),
        );
        return { id: view.id, kind: spec.kind, members: spec.members };
      }),
    ),
  );
}

/** Who sends what where: decided up front from the seed, so the workload repeats run to run. */
function planSends(
  settings: ChaosSettings,
  random: Random,
  conversations: readonly Conversation[],
  usersDevices: ReadonlyMap<string, readonly ChaosDevice[]>,
): PlannedSend[] {
  // The poison conversation only ever gets the poison: it stays the last message there until the redrive.
  const eligible = conversations.filter((conversation) => conversation.kind !== 'poison');
  return Array.from({ length: settings.messages }, (_, index): PlannedSend => {
    const conversation = random.pick(eligible);
    const device = random.pick(usersDevices.get(random.pick(conversation.members)) ?? []);
    const flaky = random.chance(settings.flakyShare);
    return { conversation, device, text: `chaos ${index}${flaky ? ` ${flakyMarker}` : ''}` };
  });
}

/** Cuts a random live connection every so often (exponential gaps), half of them without `$disconnect`. */
async function dropConnections(
  stack: LocalStack,
  random: Random,
  meanGapMs: number,
  running: () => boolean,
  counters: { drops: number; dropsWithoutDisconnect: number },
  devices: readonly ChaosDevice[],
): Promise<void> {
  while (running()) {
    await sleep(Math.min(meanGapMs * 5, -Math.log(1 - random.next()) * meanGapMs));
    const ids = stack.connectionIds();
    if (!running() || ids.length === 0) continue;
    // Cuts wait while a fifth of the devices is still reconnecting: on a slow machine a reconnect storm
    // would otherwise outrun recovery and measure the machine, not the product.
    if (devices.filter((device) => device.client.state === 'connected').length < devices.length * 0.8) continue;
    const notify = random.chance(0.5);
    if (stack.dropConnection(random.pick(ids), { notify })) {
      counters.drops += 1;
      if (!notify) counters.dropsWithoutDisconnect += 1;
    }
  }
}

function conversationsOf(conversations: readonly Conversation[], device: ChaosDevice): Conversation[] {
  return conversations.filter((conversation) => conversation.members.includes(device.userId));
}

/** The whole history of every conversation (voids left out: they are never shown), read by a member. */
async function readHistories(
  conversations: readonly Conversation[],
  usersDevices: ReadonlyMap<string, readonly ChaosDevice[]>,
): Promise<Map<string, Message[]>> {
  const histories = new Map<string, Message[]>();
  const readLimit = pLimit(4);
  await Promise.all(
    conversations.map((conversation) =>
      readLimit(async () => {
        const reader = usersDevices.get(conversation.members[0] ?? '')?.[0];
        if (reader === undefined) throw new Error(`No reader for ${conversation.id}`);
        const messages: Message[] = [];
        let page = await retry(() => reader.client.api.history(conversation.id, { after: 0, limit: 100 }));
        messages.push(...page.messages);
        while (page.cursor !== undefined) {
          const cursor = page.cursor;
          page = await retry(() => reader.client.api.history(conversation.id, { cursor, limit: 100 }));
          messages.push(...page.messages);
        }
        histories.set(
          conversation.id,
          messages.filter((message) => message.type !== 'void'),
        );
      }),
    ),
  );
  return histories;
}

function holds(device: ChaosDevice, message: Message | undefined): boolean {
  if (message === undefined) return false;
  return device.client.messages(message.conversationId).some((cached) => cached.seq === message.seq);
}

/** Messages of the history that `counted` selects and that a member device's cache lacks, over all devices. */
function countMissing(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
  history: ReadonlyMap<string, readonly Message[]>,
  counted: (message: Message) => boolean,
): number {
  let missing = 0;
  for (const device of devices) {
    for (const conversation of conversationsOf(conversations, device)) {
      const cached = new Set(device.client.messages(conversation.id).map((message) => message.seq));
      for (const message of history.get(conversation.id) ?? []) {
        if (counted(message) && !cached.has(message.seq)) missing += 1;
      }
    }
  }
  return missing;
}

/** Duplicates and order as the app sees them: `message` events and the cache. */
function countVisibleFaults(
  devices: readonly ChaosDevice[],
  conversations: readonly Conversation[],
): { duplicated: number; outOfOrder: number } {
  let duplicated = 0;
  let outOfOrder = 0;
  for (const device of devices) {
    for (const times of device.emitted.values()) duplicated += Math.max(0, times - 1);
    outOfOrder += device.outOfOrderEvents;
    for (const conversation of conversationsOf(conversations, device)) {
      const seqs = device.client.messages(conversation.id).map((message) => message.seq);
      duplicated += seqs.length - new Set(seqs).size;
      for (let i = 1; i < seqs.length; i++) if ((seqs[i] ?? 0) <= (seqs[i - 1] ?? 0)) outOfOrder += 1;
    }
  }
  return { duplicated, outOfOrder };
}

interface InboxItem {
  readonly deviceKey: string;
  readonly position: string;
  readonly expiresAt: number;
}

export interface InboxLeftover {
  readonly device: string;
  readonly conversationId: string;
  readonly seq: number;
  /** The device holds the message (the item is a stale copy). */
  readonly held: boolean;
  readonly deviceHighestSeq: number;
  readonly parkedSecondsAgo: number;
  readonly connectedSecondsAgo: number;
}

/** Every item of the inbox table, read directly (what the acks should have emptied). */
async function inboxItems(stack: LocalStack): Promise<InboxItem[]> {
  const client = createLocalDynamoDbClient(stack.dynamoEndpoint);
  try {
    const items: InboxItem[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: stack.tables.inbox.tableName,
          ProjectionExpression: 'deviceKey, #position, expiresAt',
          ExpressionAttributeNames: { '#position': 'position' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        items.push({
          deviceKey: item.deviceKey?.S ?? '',
          position: item.position?.S ?? '',
          expiresAt: Number(item.expiresAt?.N ?? 0),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  } finally {
    client.destroy();
  }
}

function describeLeftovers(items: readonly InboxItem[], devices: readonly ChaosDevice[]): InboxLeftover[] {
  const retentionSeconds = limits.inboxRetentionDays * 24 * 60 * 60;
  return items.map((item) => {
    const device = devices.find((candidate) => `${candidate.userId}#${candidate.deviceId}` === item.deviceKey);
    const separator = item.position.lastIndexOf('#');
    const conversationId = item.position.slice(0, separator);
    const cached = device?.client.messages(conversationId) ?? [];
    const seq = Number(item.position.slice(separator + 1));
    return {
      device: device?.deviceId ?? item.deviceKey,
      conversationId,
      seq,
      held: cached.some((message) => message.seq === seq),
      deviceHighestSeq: cached.at(-1)?.seq ?? 0,
      parkedSecondsAgo: Math.round(Date.now() / 1000 - (item.expiresAt - retentionSeconds)),
      connectedSecondsAgo: Math.round((Date.now() - (device?.lastConnectedAt ?? 0)) / 1000),
    };
  });
}

interface RedriveRun {
  readonly exitCode: number | null;
  readonly line: string;
  readonly redriven: number;
}

/** `npm run redrive -- --local --data-dir <dir>`, as an operator would run it, in its own process. */
function runRedrive(dataDir: string): Promise<RedriveRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repositoryRoot, 'scripts/redrive.ts'), '--local', '--data-dir', dataDir],
      { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      const line = output.trim().split('\n').at(-1) ?? '';
      let redriven = 0;
      try {
        const summary: unknown = JSON.parse(line);
        const value: unknown = typeof summary === 'object' && summary !== null ? Reflect.get(summary, 'redriven') : 0;
        redriven = typeof value === 'number' ? value : 0;
      } catch {
        // Not JSON: the exit code and the line tell what happened.
      }
      resolve({ exitCode, line, redriven });
    });
  });
}

/** Polls `remaining` until it is 0 or the time is up; answers the last value. */
async function waitFor(
  what: string,
  timeoutMs: number,
  log: (line: string) => void,
  remaining: () => number | Promise<number>,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  for (;;) {
    const left = await remaining();
    if (left === 0) return 0;
    if (Date.now() > deadline) {
      log(`gave up waiting for ${what}: ${left} left`);
      return left;
    }
    if (Date.now() - lastLog > 5_000) {
      log(`waiting for ${what}: ${left} left`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
}

/** HTTP calls of the harness itself retry through faults (a DynamoDB restart answers 500 for a while). */
async function retry<T>(call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}

function tallyErrors(devices: readonly ChaosDevice[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const device of devices) {
    for (const [key, count] of device.errors) tally[key] = (tally[key] ?? 0) + count;
  }
  return tally;
}

/** Which sends hang, where, and what state their devices are in. */
function describeStall(
  pending: ReadonlyMap<number, PlannedSend & { readonly since: number }>,
  devices: readonly ChaosDevice[],
): Record<string, unknown> {
  const byConversation: Record<string, number> = {};
  const deviceStates: Record<string, number> = {};
  for (const send of pending.values()) {
    byConversation[`${send.conversation.kind}:${send.conversation.id}`] =
      (byConversation[`${send.conversation.kind}:${send.conversation.id}`] ?? 0) + 1;
    deviceStates[send.device.client.state] = (deviceStates[send.device.client.state] ?? 0) + 1;
  }
  const oldest = Math.min(...[...pending.values()].map((send) => send.since));
  return {
    pending: pending.size,
    oldestSeconds: Math.round((Date.now() - oldest) / 1000),
    byConversation,
    deviceStates,
    allDeviceStates: devices.map((device) => device.client.state).join(','),
    errors: tallyErrors(devices),
  };
}

/** True once `work` settles; false when nothing progressed for `stallMs` (a long run is fine, a stuck one is not). */
async function settleUnlessStalled(
  work: Promise<unknown>,
  lastProgressAt: () => number,
  stallMs: number,
): Promise<boolean> {
  let settled = false;
  void work.then(() => {
    settled = true;
  });
  while (!settled) {
    if (Date.now() - lastProgressAt() > stallMs) return false;
    await sleep(250);
  }
  return true;
}
