import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';

/** The fake account the local stack pretends to run in; it shows up in ARNs and request contexts. */
export const localRegion = 'us-east-1';
export const localAccountId = '000000000000';

/** DynamoDB Local accepts any keys; fixed dummies keep real credentials out of every local call. */
export const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export function createLocalDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: localRegion, credentials: localCredentials });
}

export function createLocalStreamsClient(endpoint: string): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({ endpoint, region: localRegion, credentials: localCredentials });
}
