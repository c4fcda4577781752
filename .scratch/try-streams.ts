import { startDynamoDbLocal } from '../local/dynamodb-local';
import { createLocalTables } from '../local/tables';
import { createLocalDynamoDbClient, createLocalStreamsClient } from '../local/aws-local';
import { PutItemCommand, DeleteItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetShardIteratorCommand, GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
const d = await startDynamoDbLocal();
const c = createLocalDynamoDbClient(d.endpoint);
const t = await createLocalTables(c, 'x-');
console.log(JSON.stringify(t.messages), t.connections.streamArn);
const again = await createLocalTables(c, 'x-');
console.log('again created', again.messages.createdNow);
const s = createLocalStreamsClient(d.endpoint);
for (let i = 0; i < 3; i++) await c.send(new PutItemCommand({ TableName: t.messages.tableName, Item: { conversationId: { S: 'c1' }, seq: { N: String(i) }, b: { B: new Uint8Array([1,2]) }, l: { L: [{ NULL: true }, { BOOL: true }] } } }));
const desc = await s.send(new DescribeStreamCommand({ StreamArn: t.messages.streamArn }));
console.log(JSON.stringify(desc.StreamDescription, null, 1));
const shard = desc.StreamDescription!.Shards![0]!;
const it = await s.send(new GetShardIteratorCommand({ StreamArn: t.messages.streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
const r = await s.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
console.log(r.Records?.length, r.Records?.[0], r.NextShardIterator?.slice(0, 30));
// TTL: a table with stream & ttl? inbox has ttl but no stream. test on a custom table
const { CreateTableCommand, UpdateTimeToLiveCommand } = await import('@aws-sdk/client-dynamodb');
await c.send(new CreateTableCommand({ TableName: 'ttltest', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
await c.send(new UpdateTimeToLiveCommand({ TableName: 'ttltest', TimeToLiveSpecification: { Enabled: true, AttributeName: 'exp' } }));
await c.send(new PutItemCommand({ TableName: 'ttltest', Item: { id: { S: 'a' }, exp: { N: String(Math.floor(Date.now() / 1000) - 10) } } }));
const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
const arn = (await c.send(new DescribeTableCommand({ TableName: 'ttltest' }))).Table!.LatestStreamArn!;
const sh = (await s.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards![0]!;
let iter = (await s.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: sh.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
const t0 = Date.now();
while (Date.now() - t0 < 20000) {
  const rr = await s.send(new GetRecordsCommand({ ShardIterator: iter }));
  for (const rec of rr.Records ?? []) console.log(Date.now() - t0, rec.eventName, JSON.stringify(rec.userIdentity), JSON.stringify(rec.dynamodb?.Keys));
  if ((rr.Records ?? []).some((x) => x.eventName !== 'INSERT')) break;
  iter = rr.NextShardIterator;
  await new Promise((r) => setTimeout(r, 500));
}
console.log('scan', (await c.send(new ScanCommand({ TableName: 'ttltest' }))).Count);
await d.stop();
