/**
 * CPU per `@connections` post, the SDK's client against Parley's poster (shared/aws/connection-poster.ts):
 * rounds of 59 posts in parallel (a 100-member group's online devices) to a local HTTP server that
 * answers 200 at once. `npx tsx bench/post-cpu.ts`; the figures include the trivial server's side.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { createConnectionPoster } from '#shared/aws/connection-poster';
import type { ServerFrame } from '#shared/protocol/frames';

const postsPerRound = 59;
const warmupRounds = 20;
const measuredRounds = 100;

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.end());
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
// Any credentials: the server does not check the signature, and signing costs the same.
process.env.AWS_ACCESS_KEY_ID ??= 'AKIDBENCH';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench-secret';
process.env.AWS_REGION ??= 'us-east-1';

// A receipt frame: the smallest a group send's receipts post, about the size of a short message's.
const frame: ServerFrame = {
  type: 'receipt',
  conversationId: '01JBENCHCONVERSATION0000000',
  userId: '01JBENCHUSER00000000000000',
  kind: 'read',
  upToSeq: 1234,
  at: new Date().toISOString(),
};
const poster = createConnectionPoster(callbackUrl);
const sdk = new ApiGatewayManagementApiClient({ endpoint: callbackUrl });
const data = new TextEncoder().encode(JSON.stringify(frame));

const ways = {
  sdk: (id: string) => sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data })),
  poster: (id: string) => poster.post(id, frame),
};

for (const pass of [1, 2]) {
  for (const [name, post] of Object.entries(ways)) {
    const round = () => Promise.all(Array.from({ length: postsPerRound }, (_, i) => post(`conn${i}=`)));
    for (let i = 0; i < warmupRounds; i++) await round();
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    for (let i = 0; i < measuredRounds; i++) await round();
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = (performance.now() - startedAt) / measuredRounds;
    const cpuMsPerPost = (cpu.user + cpu.system) / 1000 / measuredRounds / postsPerRound;
    console.log(
      `pass ${pass} ${name.padEnd(6)} ${cpuMsPerPost.toFixed(3)} ms CPU per post, ${wallMs.toFixed(1)} ms wall per ${postsPerRound} posts`,
    );
  }
}
sdk.destroy();
server.closeAllConnections();
server.close();
