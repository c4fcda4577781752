/**
 * Vitest globalSetup: one DynamoDB Local for the whole run (Java starts once, in seconds). Test files
 * read its endpoint with `inject('dynamoEndpoint')` and keep apart through their own table prefixes.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/dynamodb-local';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Workers inherit this: the SDK's Node 20 notice would repeat in every test file's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dynamo = await startDynamoDbLocal({ port: 0 });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
