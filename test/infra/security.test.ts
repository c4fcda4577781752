/**
 * Security properties of the synthesized stack: least privilege per function (no wildcard action,
 * DynamoDB and S3 rights only on named tables, indexes, streams and bucket prefixes), stage
 * throttling from `limits.stageThrottling`, and the `$connect` authorizer's identity source.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type FunctionName, functions, webSocketAuthorizer } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import { push } from '#shared/config/push';
import { tableKeys, tables } from '#shared/config/tables';
import type { ParleyStack } from '../../infra/parley-stack';
import { buildParleyStack, logicalIdAt } from './parley-stack';

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Services whose actions have no resource-level permissions, so `*` is the only resource they take. */
const resourceLessActions = new Set([
  // The stream event source lists a table's streams; ListStreams names no table or stream.
  'dynamodb:ListStreams',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
]);

const functionNames = Object.keys(functions) as FunctionName[];
let stack: ParleyStack;
let resources: Record<string, TemplateResource>;

beforeAll(() => {
  // The policies do not depend on the bundles.
  stack = buildParleyStack({ bundle: false });
  resources = Template.fromStack(stack).toJSON().Resources as Record<string, TemplateResource>;
}, 300_000);

const resourcesOfType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const actionsOf = (statement: PolicyStatement) => [statement.Action].flat();
const resourcesOf = (statement: PolicyStatement) => [statement.Resource].flat();
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function statementsOf(name: FunctionName): PolicyStatement[] {
  const functionsDescribed = resourcesOfType('AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties.Description === functions[name].description,
  );
  expect(functionsDescribed, name).toHaveLength(1);
  const [, fn] = functionsDescribed[0] as [string, TemplateResource];
  const [roleId] = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  return resourcesOfType('AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((role) => sameJson(role, { Ref: roleId })))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

/** Every ARN form a DynamoDB grant may name: a table of the stack, one of its indexes, or its stream. */
function isTableArn(resource: unknown): boolean {
  const text = JSON.stringify(resource);
  return tableKeys.some((key) => {
    const tableId = logicalIdAt(stack, 'Data', tables[key].logicalName);
    return (
      sameJson(resource, { 'Fn::GetAtt': [tableId, 'Arn'] }) ||
      sameJson(resource, { 'Fn::GetAtt': [tableId, 'StreamArn'] }) ||
      (text.includes(`"${tableId}"`) && /\/index\/[A-Za-z]+"/.test(text))
    );
  });
}

describe('least privilege, per function', () => {
  it.each(functionNames)('%s has no wildcard in any action', (name) => {
    const actions = statementsOf(name).flatMap(actionsOf);

    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });

  it.each(functionNames)('%s may use DynamoDB only on named tables, their indexes and streams', (name) => {
    const dynamo = statementsOf(name).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('dynamodb:') && !resourceLessActions.has(action)),
    );

    for (const statement of dynamo) {
      expect(resourcesOf(statement).filter((resource) => !isTableArn(resource))).toEqual([]);
    }
  });

  it.each(functionNames)('%s may use S3 only on object keys under one of its catalog prefixes', (name) => {
    const s3 = statementsOf(name).filter((statement) => actionsOf(statement).some((a) => a.startsWith('s3:')));
    const bucketId = logicalIdAt(stack, 'Media', 'Bucket');
    const prefixes =
      (functions[name] as { bucket?: readonly { prefix: string }[] }).bucket?.map((grant) => grant.prefix) ?? [];

    expect(s3.length > 0).toBe(prefixes.length > 0);
    for (const statement of s3) {
      for (const resource of resourcesOf(statement)) {
        const text = JSON.stringify(resource);
        expect(text, `${name}: ${text}`).toContain(`"${bucketId}"`);
        expect(
          prefixes.some((prefix) => text.includes(`/${prefix}*`)),
          `${name}: ${text} is not under ${prefixes.join(', ')}`,
        ).toBe(true);
      }
    }
  });

  it.each(functionNames)(
    '%s takes `*` as a resource only for actions that have no resource-level permissions',
    (name) => {
      const unscoped = statementsOf(name)
        .filter((statement) => resourcesOf(statement).includes('*'))
        .flatMap(actionsOf)
        .filter((action) => !resourceLessActions.has(action));

      expect(unscoped).toEqual([]);
    },
  );

  it.each(functionNames)('%s lists each table once in its catalog grants', (name) => {
    const granted = functions[name].tables.map((grant) => grant.table);

    expect(granted).toEqual([...new Set(granted)]);
  });

  it('keeps connect tickets to the ticket issuer (PutItem) and the authorizer (DeleteItem)', () => {
    const users = functionNames.flatMap((name) =>
      functions[name].tables
        .filter((grant) => grant.table === 'connectTickets')
        .map((grant) => `${name}: ${grant.actions.join(',')}`),
    );

    expect(users.sort()).toEqual(['httpCreateConnectTicket: PutItem', 'wsAuthorizer: DeleteItem']);
  });

  it('lets fan-out alone invoke a function, and only the push sender', () => {
    const invokers = functionNames.flatMap((name) =>
      statementsOf(name)
        .filter((statement) => actionsOf(statement).includes('lambda:InvokeFunction'))
        .map((statement) => ({ name, resources: resourcesOf(statement) })),
    );
    const [senderId] = resourcesOfType('AWS::Lambda::Function').find(
      ([, fn]) => fn.Properties.Description === functions.pushSend.description,
    ) as [string, TemplateResource];

    expect(invokers).toEqual([{ name: 'streamFanOut', resources: [{ 'Fn::GetAtt': [senderId, 'Arn'] }] }]);
  });

  it('lets the push sender alone read the VAPID private key', () => {
    const secretId = logicalIdAt(stack, 'Push', 'VapidPrivateKey');
    const readers = functionNames.filter((name) =>
      statementsOf(name).some(
        (statement) =>
          actionsOf(statement).includes('secretsmanager:GetSecretValue') &&
          JSON.stringify(resourcesOf(statement)).includes(`"${secretId}"`),
      ),
    );

    expect(readers).toEqual(['pushSend']);
  });

  it("retries the push sender's asynchronous invocations as the catalog says, then queues them", () => {
    const configs = resourcesOfType('AWS::Lambda::EventInvokeConfig').map(([, config]) => config.Properties);

    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      MaximumRetryAttempts: push.retryAttempts,
      MaximumEventAgeInSeconds: push.maxEventAgeSeconds,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdAt(stack, 'Push', 'FailedPushes'), 'Arn'] } },
      },
    });
  });
});

describe('API Gateway stage throttling', () => {
  function stageOf(apiPath: string): TemplateResource {
    const apiId = logicalIdAt(stack, apiPath, 'Api');
    const stages = resourcesOfType('AWS::ApiGatewayV2::Stage').filter(([, stage]) =>
      sameJson(stage.Properties.ApiId, { Ref: apiId }),
    );
    expect(stages).toHaveLength(1);
    return (stages[0] as [string, TemplateResource])[1];
  }

  it('limits every route of the WebSocket stage by default, from limits.stageThrottling.webSocket', () => {
    expect(stageOf('Realtime').Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: limits.stageThrottling.webSocket.rateLimit,
      ThrottlingBurstLimit: limits.stageThrottling.webSocket.burstLimit,
    });
  });

  it('limits every route of the HTTP stage by default, from limits.stageThrottling.http', () => {
    expect(stageOf('Http').Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: limits.stageThrottling.http.rateLimit,
      ThrottlingBurstLimit: limits.stageThrottling.http.burstLimit,
    });
  });
});

describe('the $connect authorizer', () => {
  it('lists only deviceId as identity source (a ticket or a token may be missing) and caches nothing', () => {
    const apiId = logicalIdAt(stack, 'Realtime', 'Api');
    const authorizers = resourcesOfType('AWS::ApiGatewayV2::Authorizer').filter(([, authorizer]) =>
      sameJson(authorizer.Properties.ApiId, { Ref: apiId }),
    );

    expect(webSocketAuthorizer.identitySource).toEqual(['route.request.querystring.deviceId']);
    expect(authorizers).toHaveLength(1);
    const [, authorizer] = authorizers[0] as [string, TemplateResource];
    expect(authorizer.Properties.IdentitySource).toEqual(['route.request.querystring.deviceId']);
    expect(authorizer.Properties.AuthorizerResultTtlInSeconds ?? 0).toBe(0);
  });
});
