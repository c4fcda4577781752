import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { addDynamoDbAccessGuard } from './access-guard';
import { addDynamoDbCallDelay } from './call-delay';
import { addAwsCallGate } from './call-gate';
import { addCapacityMeter } from './capacity-meter';

/**
 * One document client per container. The endpoint comes from the SDK's own configuration
 * (AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local), so no code path differs locally.
 */
export function createDocumentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  // Every call reports its consumed units to the process-wide recorder (a no-op unless one is installed).
  addCapacityMeter(client);
  // Every call is shown to the process-wide access guard first (none on Lambda; the local stack's IAM stand-in).
  addDynamoDbAccessGuard(client);
  // Every call waits as long as the process-wide delay says (none on Lambda; the local stack's AWS timing profile).
  addDynamoDbCallDelay(client);
  // Every call passes the process-wide gate (none on Lambda; the local runtime's model of a timeout stopping an invocation).
  addAwsCallGate(client);
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
