import { type DynamoDBDocumentClient, paginateQuery, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

/** Every item a Query matches, page after page (the SDK's paginator follows LastEvaluatedKey). */
export async function queryAll(
  documentClient: DynamoDBDocumentClient,
  input: QueryCommandInput,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client: documentClient }, input)) items.push(...(page.Items ?? []));
  return items;
}
