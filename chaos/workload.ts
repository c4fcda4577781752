/**
 * The chaos workload: messages planned up front from the seed, sent through the devices' SDKs while the
 * stack cuts connections, restarts DynamoDB Local and fails posts and fan-outs; one of them is the poison.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { conversationKeys } from '#shared/keys';
import type { Message } from '../client/index';
import { createLocalDynamoDbClient } from '../local/aws-local';
import type { Random } from '../local/seeded-random';
import type { LocalStack } from '../local/stack';
import type { Cast, Conversation } from './cast';
import { type ChaosDevice, messageKey } from './device';
import { flakyMarker, poisonMarker } from './fan-out-faults';
import { type ChaosRig, type DropCounters, turnFaultsOff, turnFaultsOn } from './rig';
import type { ChaosSettings } from './settings';
import { tallyErrors } from './tallies';
import { settleUnlessStalled } from './wait';

interface PlannedSend {
  readonly conversation: Conversation;
  readonly device: ChaosDevice;
  readonly text: string;
}

/** The poison message's conversation and sender, and the message once accepted. */
export interface Poison {
  readonly conversation: Conversation;
  readonly sender: ChaosDevice;
  readonly message: Message | undefined;
}

export interface SentWorkload {
  /** Every message a sender was told was accepted (`messageAccepted`), with the device that sent it. */
  readonly accepted: readonly Message[];
  readonly senders: ReadonlyMap<string, ChaosDevice>;
  readonly sendsFailed: number;
  /** False when sends made no progress for the settle timeout and the rest were dropped. */
  readonly sendsSettled: boolean;
  readonly poison: Poison;
  readonly drops: Readonly<DropCounters>;
}

/** Sends every planned message with the faults on, then turns them off; answers what was accepted. */
export async function sendWorkload(
  rig: ChaosRig,
  cast: Cast,
  settings: ChaosSettings,
  log: (line: string) => void,
): Promise<SentWorkload> {
  const { stack, faults, random } = rig;
  const { devices, usersDevices, conversations } = cast;
  const counters: DropCounters = { drops: 0, dropsWithoutDisconnect: 0 };
  turnFaultsOn(rig, settings);

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
  const senders = new Map<string, ChaosDevice>();
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
      senders.set(messageKey(message.conversationId, message.seq), planned.device);
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
    const stalled = new Set([...pendingSends.values()].map((send) => send.conversation.id));
    for (const conversationId of [...stalled].slice(0, 3)) {
      log(`stalled conversation ${conversationId}: ${JSON.stringify(await timelineItems(stack, conversationId))}`);
    }
    // Nothing more goes out: the checks below count what was sent until the stall.
    limit.clearQueue();
  }
  sending = false;
  await dropper;
  await Promise.all(restarts);
  turnFaultsOff(rig);
  log(`sending done (${accepted.length} accepted, ${sendsFailed} failed); faults off, settling`);
  return {
    accepted,
    senders,
    sendsFailed,
    sendsSettled,
    poison: { conversation: poisonConversation, sender: poisonSender, message: poisonMessage },
    drops: counters,
  };
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
  counters: DropCounters,
  devices: readonly ChaosDevice[],
): Promise<void> {
  while (running()) {
    await sleep(Math.min(meanGapMs * 5, -Math.log(1 - random.next()) * meanGapMs));
    const ids = stack.connectionIds();
    if (!running() || ids.length === 0) continue;
    // Cuts wait while a fifth of the devices is still reconnecting: on a slow machine a reconnect storm
    // would otherwise outrun recovery and measure the machine, not the product.
    if (devices.filter((device) => device.client.state === 'connected').length < devices.length * 0.8) continue;
    // The first cut is always one without `$disconnect`, the harder kind, so even a short run meets it.
    const notify = counters.dropsWithoutDisconnect > 0 && random.chance(0.5);
    if (stack.dropConnection(random.pick(ids), { notify })) {
      counters.drops += 1;
      if (!notify) counters.dropsWithoutDisconnect += 1;
    }
  }
}

/** Which sends hang, where, and what state their devices are in. */
/** A stalled conversation's own items besides its members (meta, queue, parked entries): why it stalls. */
async function timelineItems(stack: LocalStack, conversationId: string): Promise<unknown[]> {
  const client = DynamoDBDocumentClient.from(createLocalDynamoDbClient(stack.dynamoEndpoint));
  const { Items = [] } = await client.send(
    new QueryCommand({
      TableName: stack.tables.conversations.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': conversationKeys.partition(conversationId) },
      ConsistentRead: true,
    }),
  );
  return Items.filter((item) => !String(item.sk).startsWith(conversationKeys.memberPrefix));
}

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
