import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { tracer } from './observability';

/** One DynamoDB client per container, traced: each call is a subsegment (a no-op where tracing is off). */
export const documentClient = createDocumentClient(tracer.captureAWSv3Client(new DynamoDBClient({})));
