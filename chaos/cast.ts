/** Who takes part in a chaos run: users with their devices, the conversations they share and what those hold. */
import pLimit from 'p-limit';
import type { Message } from '../client/index';
import type { Random } from '../local/seeded-random';
import type { LocalStack } from '../local/stack';
import { ChaosDevice } from './device';
import type { ChaosSettings } from './settings';
import { retry, waitFor } from './wait';

export interface Conversation {
  readonly id: string;
  readonly kind: 'direct' | 'group' | 'poison';
  readonly members: readonly string[];
}

export interface Cast {
  readonly devices: readonly ChaosDevice[];
  readonly usersDevices: ReadonlyMap<string, readonly ChaosDevice[]>;
  readonly conversations: readonly Conversation[];
}

/**
 * Connects every user's devices and creates the conversations, until every device shows every one of its
 * conversations. `devices` fills as they connect, so the caller can close them whatever happens.
 */
export async function openDevices(
  stack: LocalStack,
  settings: ChaosSettings,
  random: Random,
  devices: ChaosDevice[],
  log: (line: string) => void,
): Promise<Cast> {
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
  return { devices, usersDevices, conversations };
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

export function conversationsOf(conversations: readonly Conversation[], device: ChaosDevice): Conversation[] {
  return conversations.filter((conversation) => conversation.members.includes(device.userId));
}

/** The whole history of every conversation (voids left out: they are never shown), read by a member. */
export async function readHistories(
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
