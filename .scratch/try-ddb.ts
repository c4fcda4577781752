import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
const t0 = Date.now();
const d = await startDynamoDbLocal();
console.log('up', d.endpoint, Date.now() - t0);
await d.stop();
console.log('stopped', Date.now() - t0);
