/**
 * Presence, measured on the local stack (issue 18): a user's connect and disconnect that flip their
 * presence with 0, 10 and 100 live watchers, and one `subscribePresence` of 10 and of 100 users, each
 * between two meter readings taken with the stack quiet, beside `presenceModel` and priced per million.
 * Its own users and conversations, connected from this process (no driver devices needed).
 */
import { api, ChatClient, issueToken } from '../test/support/chat-client';
import { round } from './capacity-tally';
import { type Billing, dollarsPerMillion, type MeasuredPerMessage, presenceModel } from './cost-model';
import { type CostReport, costBetween, cpuOf, readMeters } from './meters';
import type { PhaseContext } from './phases';
import { waitForQuiet } from './rig';

/** Live watchers of the flipping user, in the order they are added (each step connects the difference). */
const watcherSteps = [0, 10, 100] as const;
const mostWatchers = 100;
/** Users one `subscribePresence` names. */
const subscriptionSizes = [10, 100] as const;
/** The watchers share a group each with the flipping user: two of 51 members (under the 100-member cap). */
const watchersPerGroup = 50;

export interface PresenceFlipCost {
  readonly watchers: number;
  readonly rounds: number;
  /** Presence frames the watchers received per flip (should equal `watchers`). */
  readonly framesPerFlip: number;
  readonly connect: CostReport;
  readonly disconnect: CostReport;
  /** What the announcement adds to the connect and the disconnect (model: `presenceModel.flip`). */
  readonly model: MeasuredPerMessage;
}

export interface PresenceCosts {
  readonly flips: PresenceFlipCost[];
  readonly subscriptions: { users: number; conversations: number; measured: CostReport; model: MeasuredPerMessage }[];
}

type User = { token: string; userId: string };

/** Runs the presence measurements; `rounds` connect/disconnect pairs per step (averaged). */
export async function measurePresence(context: PhaseContext): Promise<PresenceCosts> {
  const { rig, settings, log } = context;
  const { httpUrl, wsUrl } = rig.stack;
  const rounds = settings.quick ? 2 : 5;
  log(
    `presence: flips with ${watcherSteps.join(', ')} watchers (${rounds} rounds each), subscriptions of ${subscriptionSizes.join(', ')}`,
  );
  const target = await newUser(httpUrl, 'presence-target');
  const watchers = await Promise.all(
    Array.from({ length: mostWatchers }, (_, i) => newUser(httpUrl, `presence-watcher-${i}`)),
  );
  for (let from = 0; from < watchers.length; from += watchersPerGroup) {
    const members = watchers.slice(from, from + watchersPerGroup);
    const created = await api(httpUrl, target.token, 'POST', '/conversations', {
      type: 'group',
      name: `presence ${from}`,
      memberIds: members.map((member) => member.userId),
    });
    if (created.status !== 201) throw new Error(`presence group: HTTP ${created.status}`);
  }
  const clients: ChatClient[] = [];
  try {
    // The device's first connect registers it; the measured ones are reconnects, as every later one is.
    await (await ChatClient.connect(wsUrl, target.token, 'phone')).close();
    const flips: PresenceFlipCost[] = [];
    for (const watching of watcherSteps) {
      for (const watcher of watchers.slice(clients.length, watching)) {
        const client = await ChatClient.connect(wsUrl, watcher.token, 'laptop');
        clients.push(client);
        const answer = await client.request(
          { action: 'subscribePresence', userIds: [target.userId] },
          'presenceSubscribed',
        );
        if (answer.type !== 'presenceSubscribed') throw new Error(`subscribePresence: ${JSON.stringify(answer)}`);
      }
      flips.push(await measureFlips(context, target, clients, rounds));
      const last = flips[flips.length - 1];
      if (last !== undefined)
        log(
          `presence flip, ${watching} watchers: connect ${last.connect.dynamoDb.readUnits} RRU ${last.connect.dynamoDb.writeUnits} WRU ${last.connect.postToConnection} posts; disconnect ${last.disconnect.dynamoDb.readUnits} RRU ${last.disconnect.dynamoDb.writeUnits} WRU ${last.disconnect.postToConnection} posts; ${last.framesPerFlip} frames per flip`,
        );
    }
    const viewer = await ChatClient.connect(wsUrl, target.token, 'phone');
    clients.push(viewer);
    const subscriptions = [];
    for (const users of subscriptionSizes) {
      const userIds = watchers.slice(0, users).map((watcher) => watcher.userId);
      const measured = await metered(context, 1, async () => {
        const answer = await viewer.request({ action: 'subscribePresence', userIds }, 'presenceSubscribed');
        const states = Array.isArray(answer.presence) ? answer.presence.length : -1;
        if (states !== users) throw new Error(`subscribePresence of ${users} answered ${states} states`);
      });
      // The viewer is in two conversations; each watcher in one.
      subscriptions.push({ users, conversations: 2, measured, model: presenceModel.subscription(users, 2).measured });
      log(
        `subscribePresence of ${users}: ${measured.dynamoDb.readUnits} RRU ${measured.dynamoDb.writeUnits} WRU in ${measured.dynamoDb.calls} calls`,
      );
    }
    return { flips, subscriptions };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await waitForQuiet(rig);
  }
}

async function measureFlips(
  context: PhaseContext,
  target: User,
  watchers: readonly ChatClient[],
  rounds: number,
): Promise<PresenceFlipCost> {
  const framesBefore = presenceFrames(watchers, target.userId);
  let device: ChatClient | undefined;
  const connects: CostReport[] = [];
  const disconnects: CostReport[] = [];
  for (let i = 0; i < rounds; i++) {
    connects.push(
      await metered(context, 1, async () => {
        device = await ChatClient.connect(context.rig.stack.wsUrl, target.token, 'phone');
      }),
    );
    disconnects.push(await metered(context, 1, async () => device?.close()));
  }
  const connect = mean(connects);
  const disconnect = mean(disconnects);
  return {
    watchers: watchers.length,
    rounds,
    framesPerFlip: round((presenceFrames(watchers, target.userId) - framesBefore) / (2 * rounds), 2),
    connect,
    disconnect,
    model: presenceModel.flip(watchers.length).measured,
  };
}

/** The cost of `work`, per `units`, from a quiet stack to a quiet stack. */
async function metered(context: PhaseContext, units: number, work: () => Promise<unknown>): Promise<CostReport> {
  const { rig } = context;
  await waitForQuiet(rig);
  const before = readMeters(rig);
  await work();
  const answered = readMeters(rig);
  await waitForQuiet(rig);
  return costBetween(before, { ...readMeters(rig), ...cpuOf(answered) }, units);
}

/** Rounds averaged: units, calls and posts (what the cost lines price); the rest from the last round. */
function mean(reports: readonly CostReport[]): CostReport {
  const last = reports[reports.length - 1];
  if (last === undefined) throw new Error('no rounds');
  const avg = (pick: (report: CostReport) => number) =>
    round(reports.reduce((sum, report) => sum + pick(report), 0) / reports.length, 3);
  const byFunction: CostReport['lambdaInvocations']['byFunction'] = {};
  for (const name of new Set(reports.flatMap((report) => Object.keys(report.lambdaInvocations.byFunction)))) {
    byFunction[name] = {
      perMessage: avg((report) => report.lambdaInvocations.byFunction[name]?.perMessage ?? 0),
      meanMs: avg((report) => report.lambdaInvocations.byFunction[name]?.meanMs ?? 0),
      onThreadMs: avg((report) => report.lambdaInvocations.byFunction[name]?.onThreadMs ?? 0),
      billedMs: avg((report) => report.lambdaInvocations.byFunction[name]?.billedMs ?? 0),
      failures: reports.reduce((sum, report) => sum + (report.lambdaInvocations.byFunction[name]?.failures ?? 0), 0),
    };
  }
  return {
    ...last,
    dynamoDb: {
      ...last.dynamoDb,
      calls: avg((report) => report.dynamoDb.calls),
      readUnits: avg((report) => report.dynamoDb.readUnits),
      writeUnits: avg((report) => report.dynamoDb.writeUnits),
      failedWriteUnits: avg((report) => report.dynamoDb.failedWriteUnits),
    },
    postToConnection: avg((report) => report.postToConnection),
    postsGone: avg((report) => report.postsGone),
    lambdaInvocations: { total: avg((report) => report.lambdaInvocations.total), byFunction },
  };
}

function presenceFrames(clients: readonly ChatClient[], userId: string): number {
  return clients.reduce(
    (sum, client) => sum + client.frames.filter((frame) => frame.type === 'presence' && frame.userId === userId).length,
    0,
  );
}

async function newUser(httpUrl: string, username: string): Promise<User> {
  const user = await issueToken(httpUrl, username);
  const created = await api(httpUrl, user.token, 'POST', '/users', {
    name: username,
    username: username.replaceAll('-', ''),
  });
  if (created.status !== 201) throw new Error(`profile ${username}: HTTP ${created.status}`);
  return user;
}

/** Prints the measured presence costs beside the model, each priced per million flips or subscriptions. */
export function printPresenceCosts(costs: PresenceCosts): void {
  const connectBilling: Billing = { routeRequests: 0, connects: 1 };
  const disconnectBilling: Billing = { routeRequests: 0, disconnects: 1 };
  const noBilling: Billing = { routeRequests: 0 };
  const base = costs.flips.find((flip) => flip.watchers === 0);
  console.log('\nPresence, measured (per event; $ per million events at list prices)');
  for (const flip of costs.flips) {
    const connect = dollarsPerMillion(flip.connect, connectBilling).usdPerMillionMessages;
    const disconnect = dollarsPerMillion(flip.disconnect, disconnectBilling).usdPerMillionMessages;
    const model = dollarsPerMillion(flip.model, noBilling).usdPerMillionMessages;
    const added = (pick: (flipCost: PresenceFlipCost) => CostReport) =>
      base === undefined
        ? ''
        : `, +${round(pick(flip).dynamoDb.readUnits - pick(base).dynamoDb.readUnits, 2)} RRU +${round(pick(flip).postToConnection - pick(base).postToConnection, 2)} posts over 0 watchers`;
    console.log(
      `  ${flip.watchers} watchers (${flip.framesPerFlip} frames per flip)\n` +
        `    connect:    ${units(flip.connect)}${added((f) => f.connect)}: $${connect}/M\n` +
        `    disconnect: ${units(flip.disconnect)}${added((f) => f.disconnect)}: $${disconnect}/M\n` +
        `    model of the announcement alone: ${units(flip.model)}: $${model}/M`,
    );
  }
  for (const subscription of costs.subscriptions) {
    const measured = dollarsPerMillion(subscription.measured, { routeRequests: 1 }).usdPerMillionMessages;
    const model = dollarsPerMillion(subscription.model, { routeRequests: 1 }).usdPerMillionMessages;
    console.log(
      `  subscribePresence of ${subscription.users} (viewer in ${subscription.conversations} conversations)\n` +
        `    measured: ${units(subscription.measured)}: $${measured}/M\n` +
        `    model:    ${units(subscription.model)}: $${model}/M`,
    );
  }
}

function units(
  measured: MeasuredPerMessage & { dynamoDb: { calls?: number; byOperation?: CostReport['dynamoDb']['byOperation'] } },
): string {
  const operations = Object.entries(measured.dynamoDb.byOperation ?? {})
    .map(([operation, t]) => `${operation} ${t.calls}x ${t.readUnits}/${t.writeUnits}`)
    .join(', ');
  const calls = measured.dynamoDb.calls === undefined ? '' : ` in ${measured.dynamoDb.calls} calls (${operations})`;
  const invocations = Object.entries(measured.lambdaInvocations.byFunction)
    .map(([name, f]) => `${name} ${f.perMessage}`)
    .join(', ');
  return `${measured.dynamoDb.readUnits} RRU, ${measured.dynamoDb.writeUnits} WRU${calls}, ${measured.postToConnection} posts${invocations ? `; ${invocations}` : ''}`;
}
