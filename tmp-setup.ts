import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from './local/dynamodb-local';
export default async function setup(project: TestProject) {
  const db = await startDynamoDbLocal();
  project.provide('dynamoEndpoint' as never, db.endpoint as never);
  return () => db.stop();
}
