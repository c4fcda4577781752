/**
 * E2E fixture: a whole local stack (gateways, real handlers, stream poller) on free ports, against the
 * run's shared DynamoDB Local, under a table prefix of its own. One stack per test file (per process).
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import type { FunctionName } from '#shared/config/functions';
import { ConnectionRepository } from '#shared/repositories/connection-repository';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { parseLogLevel } from '../../local/log';
import { anyFreeServicePorts, type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';

export interface TestStack extends LocalStack {
  /** The connection id the users table holds for a user's device (a connection row); rejects when there is none. */
  connectionIdOf(userId: string, deviceId: string): Promise<string>;
  /**
   * Runs `send` (frames no answer comes back for, such as `ack`) and resolves once `count` more
   * invocations of `name` have finished than before it; only exact when no other such frame is in flight.
   */
  handled(name: FunctionName, count: number, send: () => void): Promise<void>;
}

export interface TestStackOptions extends LocalStackOptions {
  /** Also build and serve the web app on a free port; off by default, so other e2e files never pay for a Vite build. */
  readonly web?: boolean;
}

export async function startTestStack(label: string, testOptions: TestStackOptions = {}): Promise<TestStack> {
  const { web = false, ...options } = testOptions;
  const stack = await startLocalStack({
    dynamoEndpoint: inject('dynamoEndpoint'),
    tablePrefix: `e2e-${label}-${randomUUID().slice(0, 8)}-`,
    ...anyFreeServicePorts,
    ...(web ? { webPort: 0 } : {}),
    // A loaded runner can take seconds per post; a writer's timeout would then make raw frames repeat
    // (the SDK drops them, raw test clients count them). The timeout path has its own tests.
    directPostTimeoutMs: 10_000,
    // PARLEY_LOG_LEVEL=DEBUG shows every invocation while debugging a test.
    logLevel: parseLogLevel(process.env.PARLEY_LOG_LEVEL, 'ERROR'),
    ...options,
  });
  const dynamoClient = createLocalDynamoDbClient(stack.dynamoEndpoint);
  const connections = new ConnectionRepository(createDocumentClient(dynamoClient), stack.tables.users.tableName);
  return {
    ...stack,
    async connectionIdOf(userId, deviceId) {
      const connection = (await connections.listForUser(userId)).find((row) => row.deviceId === deviceId);
      if (connection === undefined) throw new Error(`No connection row for user ${userId} device ${deviceId}`);
      return connection.connectionId;
    },
    async handled(name, count, send) {
      const finished = () => {
        const invocations = stack.invocationCounts()[name];
        return invocations === undefined ? 0 : invocations.invocations - invocations.running;
      };
      const before = finished();
      send();
      const deadline = Date.now() + 15_000;
      while (finished() < before + count) {
        if (Date.now() > deadline) throw new Error(`${count} ${name} invocation(s) did not finish within 15 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop() {
      dynamoClient.destroy();
      await stack.stop();
    },
  };
}

/**
 * Why the wire may legitimately carry a message twice so far, or undefined when it may not: a stream
 * batch that failed part-way is retried from its first failed record, and the posts it had already made
 * are made again (clients drop ids they hold). Tests of raw frames set repeats aside only then.
 */
export function wireRepeatsAllowed(stack: LocalStack): string | undefined {
  const failed = stack.streamStats.failedBatches;
  return failed > 0 ? `${failed} stream batch(es) failed and were retried` : undefined;
}
