import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import { envVars } from '#shared/config/env';
import {
  type FunctionName,
  type FunctionSpec,
  functionDefaults,
  functions,
  httpCors,
  httpRoutes,
  streamTriggers,
  webSocketAuthorizer,
  webSocketRouteSelection,
  webSocketRoutes,
} from '#shared/config/functions';
import { type TableKey, type TableSpec, tableKeys, tables } from '#shared/config/tables';
import { coldImportMs, coldStartEnvironment, linkNativeModules } from '../../bench/handlers';
import { ParleyFunction } from '../../infra/constructs/lambda-function';
import type { ParleyStack } from '../../infra/parley-stack';
import { buildParleyStack, logicalIdAt } from './parley-stack';

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

const functionNames = Object.keys(functions) as FunctionName[];
const streamReadActions = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
];

let stack: ParleyStack;
let template: Template;
let resources: Record<string, TemplateResource>;

beforeAll(() => {
  stack = buildParleyStack({ bundle: true });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, TemplateResource>;
  // No timeout of its own: the infra project's hookTimeout (vitest.config.ts) is sized for a loaded runner.
});

function resourcesOfType(type: string): [string, TemplateResource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

const ref = (logicalId: string) => ({ Ref: logicalId });
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const actionsOf = (statement: PolicyStatement) => [statement.Action].flat();
const resourcesOf = (statement: PolicyStatement) => [statement.Resource].flat();

function tableLogicalId(key: TableKey): string {
  return logicalIdAt(stack, 'Data', tables[key].logicalName);
}

/** Where the synthesized app staged the code asset of a catalog function (outside the repository). */
function assetDirectoryOf(name: FunctionName): string {
  const found = stack.node
    .findAll()
    .filter((construct): construct is ParleyFunction => construct instanceof ParleyFunction)
    .find(
      (construct) => (construct.function.node.defaultChild as CfnFunction).description === functions[name].description,
    );
  if (found === undefined) throw new Error(`No ParleyFunction for ${name}`);
  const asset = found.function.node.findChild('Code') as Asset;
  return join((stack.node.root as App).outdir, asset.assetPath);
}

/** Functions are found by their description, which comes from the catalog. */
function functionResource(name: FunctionName): [string, TemplateResource] {
  const matches = resourcesOfType('AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties.Description === functions[name].description,
  );
  expect(matches, `one function described as "${functions[name].description}"`).toHaveLength(1);
  return matches[0] as [string, TemplateResource];
}

function roleLogicalIdOf(name: FunctionName): string {
  const [, fn] = functionResource(name);
  const [roleId] = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  return roleId;
}

function statementsOf(name: FunctionName): PolicyStatement[] {
  const roleId = roleLogicalIdOf(name);
  return resourcesOfType('AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((role) => sameJson(role, ref(roleId))))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

function integrationTargeting(apiId: string, name: FunctionName): string {
  const [functionId] = functionResource(name);
  const matches = resourcesOfType('AWS::ApiGatewayV2::Integration').filter(
    ([, integration]) =>
      sameJson(integration.Properties.ApiId, ref(apiId)) &&
      JSON.stringify(integration.Properties.IntegrationUri).includes(`"${functionId}"`),
  );
  expect(matches, `an integration on ${apiId} invoking ${name}`).toHaveLength(1);
  return (matches[0] as [string, TemplateResource])[0];
}

function routeWithKey(apiId: string, routeKey: string): [string, TemplateResource] {
  const matches = resourcesOfType('AWS::ApiGatewayV2::Route').filter(
    ([, route]) => sameJson(route.Properties.ApiId, ref(apiId)) && route.Properties.RouteKey === routeKey,
  );
  expect(matches, `one route ${routeKey}`).toHaveLength(1);
  return matches[0] as [string, TemplateResource];
}

describe('DynamoDB tables', () => {
  it('creates exactly one table per spec', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', tableKeys.length);
  });

  it.each(tableKeys)('builds the %s table from its spec: keys, on-demand, PITR, TTL, stream, GSIs', (key) => {
    const spec: TableSpec = tables[key];
    const table = resources[tableLogicalId(key)] as TemplateResource;

    const keySchema = [{ AttributeName: spec.partitionKey.name, KeyType: 'HASH' }];
    if (spec.sortKey) keySchema.push({ AttributeName: spec.sortKey.name, KeyType: 'RANGE' });
    const indexes = spec.globalIndexes ?? [];
    const keyAttributes = [spec.partitionKey, spec.sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])];
    const attributeDefinitions = new Map(
      keyAttributes.flatMap((attribute) => (attribute ? [[attribute.name, attribute.type]] : [])),
    );

    expect(table.Properties.KeySchema).toEqual(keySchema);
    expect(table.Properties.AttributeDefinitions).toHaveLength(attributeDefinitions.size);
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining(
        [...attributeDefinitions].map(([name, type]) => ({ AttributeName: name, AttributeType: type })),
      ),
    );
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.TimeToLiveSpecification).toEqual(
      spec.ttlAttribute ? { AttributeName: spec.ttlAttribute, Enabled: true } : undefined,
    );
    expect(table.Properties.StreamSpecification).toEqual(spec.stream ? { StreamViewType: spec.stream } : undefined);
    expect(table.Properties.GlobalSecondaryIndexes ?? []).toEqual(
      indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
          ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : []),
        ],
        Projection: {
          ProjectionType: index.projection,
          ...(index.include === undefined ? {} : { NonKeyAttributes: [...index.include] }),
        },
      })),
    );
  });

  it('keeps every table when the stack is deleted, by default', () => {
    for (const key of tableKeys) {
      expect(resources[tableLogicalId(key)]?.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('Lambda functions', () => {
  it('creates exactly one function per catalog entry, beside the deploy-time helpers', () => {
    const catalogDescriptions = new Set<string>(functionNames.map((name) => functions[name].description));
    const all = resourcesOfType('AWS::Lambda::Function');
    const helpers = all
      .map(([, fn]) => String(fn.Properties.Description))
      .filter((description) => !catalogDescriptions.has(description));

    expect(all.length - helpers.length).toBe(functionNames.length);
    // The media signing key's and the VAPID key's generators and providers, CDK's bucket notifications handler and the web app upload.
    expect(helpers.sort()).toEqual([
      expect.stringMatching(
        /^AWS CDK resource provider framework - onEvent \(ParleyStack\/Media\/SigningKey\/Provider\)$/,
      ),
      expect.stringMatching(/^AWS CDK resource provider framework - onEvent \(ParleyStack\/Push\/Provider\)$/),
      expect.stringMatching(/^AWS CloudFormation handler for "Custom::S3BucketNotifications"/),
      expect.stringMatching(/^Deploy time: creates the VAPID key pair/),
      expect.stringMatching(/^Deploy time: creates the media signing key pair/),
      expect.stringMatching(/^Deploy time: uploads the Parley web app build/),
    ]);
  });

  it.each(functionNames)('runs %s on nodejs22.x, arm64, as index.handler of an ESM bundle', (name) => {
    const spec: FunctionSpec = functions[name];
    const [, fn] = functionResource(name);

    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
    if (spec.memoryMb) expect(fn.Properties.MemorySize).toBe(spec.memoryMb);
    if (spec.timeoutSeconds) expect(fn.Properties.Timeout).toBe(spec.timeoutSeconds);
  });

  it('gives every function behind an API a timeout within what API Gateway waits (29 s WebSocket, 30 s HTTP)', () => {
    const routed = new Set<string>([
      ...webSocketRoutes.map((route) => route.function),
      ...httpRoutes.map((route) => route.function),
    ]);
    const tooLong = [...routed].filter((name) => {
      const spec: FunctionSpec = functions[name as FunctionName];
      return (spec.timeoutSeconds ?? functionDefaults.timeoutSeconds) > 29;
    });

    expect(tooLong).toEqual([]);
  });

  it.each(functionNames)('deploys %s as a bundle that loads on its own, as at a cold start', async (name) => {
    const spec: FunctionSpec = functions[name];
    const staged = mkdtempSync(join(tmpdir(), `parley-${name}-`));
    try {
      copyFileSync(join(assetDirectoryOf(name), 'index.mjs'), join(staged, 'index.mjs'));
      // The asset's own node_modules hold arm64 builds; the host's build of the same modules stands in.
      linkNativeModules(staged, spec.nativeModules ?? []);

      await expect(coldImportMs(join(staged, 'index.mjs'), coldStartEnvironment())).resolves.toBeGreaterThan(0);
    } finally {
      rmSync(staged, { recursive: true, force: true });
    }
  });

  it.each(functionNames)('bundles the X-Ray SDK into %s only where its spec keeps SDK tracing', (name) => {
    const spec: FunctionSpec = functions[name];
    const bundle = readFileSync(join(assetDirectoryOf(name), 'index.mjs'), 'utf8');

    // The X-Ray SDK reads its daemon's address from this variable; nothing else in a bundle names it.
    expect(bundle.includes('AWS_XRAY_DAEMON_ADDRESS')).toBe(spec.sdkTracing !== false);
  });

  it.each(functionNames)('bundles web-push into %s only if it is the push sender', (name) => {
    const bundle = readFileSync(join(assetDirectoryOf(name), 'index.mjs'), 'utf8');

    // web-push's own refusal of VAPID details without a subject: nothing else in a bundle says it.
    expect(bundle.includes('No subject set in vapidDetails')).toBe(name === 'pushSend');
  });

  it.each(functionNames)(
    'leaves the default credential chain out of %s (Lambda passes credentials in the environment)',
    (name) => {
      const bundle = readFileSync(join(assetDirectoryOf(name), 'index.mjs'), 'utf8');

      // The chain's web identity link calls STS by this name; the environment provider needs no client.
      expect(bundle).not.toContain('AssumeRoleWithWebIdentity');
    },
  );

  it.each(functionNames)('gives %s exactly the settings it reads from the environment', (name) => {
    const spec: FunctionSpec = functions[name];
    const [, fn] = functionResource(name);
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;

    const expected: Record<string, unknown> = {
      POWERTOOLS_SERVICE_NAME: 'parley',
    };
    for (const grant of spec.tables) expected[tables[grant.table].envVar] = ref(tableLogicalId(grant.table));
    if (spec.manageConnections) expected[envVars.callbackUrl] = expect.anything();
    if (spec.verifiesJwt) {
      expected[envVars.jwtIssuer] = expect.anything();
      expected[envVars.jwtAudience] = ref(logicalIdAt(stack, 'Auth', 'UserPool', 'WebClient'));
      expected[envVars.jwksUri] = expect.anything();
    }
    if (spec.bucket && spec.bucket.length > 0)
      expected[envVars.mediaBucket] = ref(logicalIdAt(stack, 'Media', 'Bucket'));
    if (spec.signsMediaUrls) {
      expected[envVars.mediaCdnUrl] = {
        'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalIdAt(stack, 'Media', 'Cdn'), 'DomainName'] }]],
      };
      expected[envVars.mediaKeyPairId] = ref(logicalIdAt(stack, 'Media', 'SigningKey', 'PublicKey'));
      expected[envVars.mediaSigningKeySecret] = ref(logicalIdAt(stack, 'Media', 'SigningKey', 'Secret'));
    }
    if (spec.vapidPublicKey) {
      expected[envVars.vapidPublicKey] = { 'Fn::GetAtt': [logicalIdAt(stack, 'Push', 'KeyPair'), 'PublicKey'] };
    }
    if (spec.vapidPrivateKey)
      expected[envVars.vapidPrivateKeySecret] = ref(logicalIdAt(stack, 'Push', 'VapidPrivateKey'));
    if (spec.invokesPushSend) expected[envVars.pushSendFunction] = ref(functionResource('pushSend')[0]);
    expect(variables).toEqual(expected);
    if (spec.manageConnections) {
      expect(JSON.stringify(variables[envVars.callbackUrl])).toContain(logicalIdAt(stack, 'Realtime', 'Api'));
    }
    if (spec.verifiesJwt) {
      expect(JSON.stringify(variables[envVars.jwksUri])).toContain('/.well-known/jwks.json');
    }
  });
});

describe('IAM, per function', () => {
  it.each(functionNames)('grants %s exactly the DynamoDB actions its spec lists, table by table', (name) => {
    const spec: FunctionSpec = functions[name];
    const statements = statementsOf(name);
    const readsStream = streamTriggers.some((trigger) => trigger.function === name);

    const dynamoActions = statements.flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:'));
    const expectedActions = spec.tables.flatMap((grant) => grant.actions.map((action) => `dynamodb:${action}`));
    expect(new Set(dynamoActions)).toEqual(new Set([...expectedActions, ...(readsStream ? streamReadActions : [])]));
    expect(dynamoActions.filter((action) => action.includes('*'))).toEqual([]);

    for (const grant of spec.tables) {
      const tableId = tableLogicalId(grant.table);
      const onTable = statements.filter((statement) =>
        resourcesOf(statement).some((resource) => sameJson(resource, arnOf(tableId))),
      );
      expect(new Set(onTable.flatMap(actionsOf))).toEqual(new Set(grant.actions.map((a) => `dynamodb:${a}`)));
    }
  });

  it.each(functionNames)('lets %s Query every index of the tables it may Query', (name) => {
    const spec: FunctionSpec = functions[name];
    const statements = statementsOf(name);

    for (const grant of spec.tables.filter((g) => g.actions.includes('Query'))) {
      const tableId = tableLogicalId(grant.table);
      const tableSpec: TableSpec = tables[grant.table];
      for (const index of tableSpec.globalIndexes ?? []) {
        const indexArn = { 'Fn::Join': ['', [arnOf(tableId), `/index/${index.indexName}`]] };
        const queriesIndex = statements.some(
          (statement) =>
            actionsOf(statement).includes('dynamodb:Query') &&
            resourcesOf(statement).some((resource) => sameJson(resource, indexArn)),
        );
        expect(queriesIndex, `${name} may Query ${grant.table}/index/${index.indexName}`).toBe(true);
      }
    }
  });

  it.each(functionNames)('grants %s ManageConnections on the prod stage connections only if its spec asks', (name) => {
    const spec: FunctionSpec = functions[name];
    const manageStatements = statementsOf(name).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('execute-api:')),
    );

    if (!spec.manageConnections) {
      expect(manageStatements).toEqual([]);
      return;
    }
    expect(manageStatements).toHaveLength(1);
    const [statement] = manageStatements as [PolicyStatement];
    expect(actionsOf(statement)).toEqual(['execute-api:ManageConnections']);
    const resource = JSON.stringify(statement.Resource);
    expect(resource).toContain(logicalIdAt(stack, 'Realtime', 'Api'));
    expect(resource).toContain('/prod/*/@connections/*');
  });

  it.each(functionNames)('gives %s a role with no managed policies, writing only to its own log group', (name) => {
    const roleId = roleLogicalIdOf(name);
    const [, fn] = functionResource(name);
    const logGroupId = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    const logStatements = statementsOf(name).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('logs:')),
    );

    expect(resources[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(resources[logGroupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
    expect(logStatements).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(logGroupId) },
    ]);
  });
});

describe('Stream triggers', () => {
  it.each(streamTriggers.map((trigger) => [trigger.table, trigger.function, trigger] as const))(
    'feeds the %s stream to %s with bounded retries, bisection, partial failures and filters',
    (table, fn, trigger) => {
      const [functionId] = functionResource(fn);
      const mappings = resourcesOfType('AWS::Lambda::EventSourceMapping').filter(
        ([, mapping]) =>
          sameJson(mapping.Properties.FunctionName, ref(functionId)) &&
          sameJson(mapping.Properties.EventSourceArn, { 'Fn::GetAtt': [tableLogicalId(table), 'StreamArn'] }),
      );
      expect(mappings).toHaveLength(1);
      const [, mapping] = mappings[0] as [string, TemplateResource];

      expect(mapping.Properties).toMatchObject({
        StartingPosition: trigger.startingPosition,
        BatchSize: trigger.batchSize,
        MaximumBatchingWindowInSeconds: trigger.maxBatchingWindowSeconds,
        MaximumRetryAttempts: trigger.retryAttempts,
        MaximumRecordAgeInSeconds: trigger.maxRecordAgeSeconds,
        BisectBatchOnFunctionError: trigger.bisectBatchOnError,
        ParallelizationFactor: trigger.parallelizationFactor,
        FilterCriteria: { Filters: trigger.filters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })) },
      });
      expect(mapping.Properties.FunctionResponseTypes).toEqual(
        trigger.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
      );

      const destination = (mapping.Properties.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure
        .Destination;
      const [queueId] = (destination as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      expect(resources[queueId]?.Type).toBe('AWS::SQS::Queue');
      expect(resources[queueId]?.Properties.SqsManagedSseEnabled).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queueId)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    },
  );
});

describe('WebSocket API', () => {
  it('selects routes with the configured expression', () => {
    expect(resources[logicalIdAt(stack, 'Realtime', 'Api')]?.Properties).toMatchObject({
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: webSocketRouteSelection,
    });
  });

  it('authorizes $connect with the REQUEST authorizer on the configured identity sources', () => {
    const apiId = logicalIdAt(stack, 'Realtime', 'Api');
    const [authorizerFunctionId] = functionResource(webSocketAuthorizer.function);
    const authorizers = resourcesOfType('AWS::ApiGatewayV2::Authorizer').filter(([, authorizer]) =>
      sameJson(authorizer.Properties.ApiId, ref(apiId)),
    );
    expect(authorizers).toHaveLength(1);
    const [authorizerId, authorizer] = authorizers[0] as [string, TemplateResource];

    expect(authorizer.Properties.AuthorizerType).toBe('REQUEST');
    expect(authorizer.Properties.IdentitySource).toEqual([...webSocketAuthorizer.identitySource]);
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(`"${authorizerFunctionId}"`);
    expect(routeWithKey(apiId, '$connect')[1].Properties).toMatchObject({
      AuthorizationType: 'CUSTOM',
      AuthorizerId: ref(authorizerId),
    });
  });

  it.each(webSocketRoutes.map((route) => [route.routeKey, route.function, route] as const))(
    'routes %s to %s, returning its response only when the spec says so',
    (routeKey, fn, route) => {
      const apiId = logicalIdAt(stack, 'Realtime', 'Api');
      const integrationId = integrationTargeting(apiId, fn);
      const [routeId, routeResource] = routeWithKey(apiId, routeKey);
      const routeResponses = resourcesOfType('AWS::ApiGatewayV2::RouteResponse').filter(([, response]) =>
        sameJson(response.Properties.RouteId, ref(routeId)),
      );

      expect(routeResource.Properties.Target).toEqual({
        'Fn::Join': ['', ['integrations/', ref(integrationId)]],
      });
      expect(routeResource.Properties.RouteResponseSelectionExpression).toEqual(
        route.returnResponse ? '$default' : undefined,
      );
      expect(routeResponses).toHaveLength(route.returnResponse ? 1 : 0);
      if (routeKey !== '$connect') expect(routeResource.Properties.AuthorizationType).toBe('NONE');
    },
  );

  it('creates no routes beyond the spec', () => {
    const apiId = logicalIdAt(stack, 'Realtime', 'Api');
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').filter(([, route]) =>
      sameJson(route.Properties.ApiId, ref(apiId)),
    );
    expect(routes).toHaveLength(webSocketRoutes.length);
  });

  it('deploys a prod stage automatically, with default throttling and access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: ref(logicalIdAt(stack, 'Realtime', 'Api')),
      StageName: 'prod',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.requestId') },
    });
  });
});

describe('HTTP API', () => {
  it.each(httpRoutes.map((route) => [`${route.method} ${route.path}`, route.function] as const))(
    'routes %s to %s behind the Cognito JWT authorizer',
    (routeKey, fn) => {
      const apiId = logicalIdAt(stack, 'Http', 'Api');
      const authorizerId = logicalIdAt(stack, 'Http', 'Api', 'CognitoJwt');
      const integrationId = integrationTargeting(apiId, fn);

      expect(routeWithKey(apiId, routeKey)[1].Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: ref(authorizerId),
        Target: { 'Fn::Join': ['', ['integrations/', ref(integrationId)]] },
      });
    },
  );

  it('creates no routes beyond the spec', () => {
    const apiId = logicalIdAt(stack, 'Http', 'Api');
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').filter(([, route]) =>
      sameJson(route.Properties.ApiId, ref(apiId)),
    );
    expect(routes).toHaveLength(httpRoutes.length);
  });

  it('checks ID tokens: issuer is the user pool, audience is the app client', () => {
    const userPoolId = logicalIdAt(stack, 'Auth', 'UserPool');
    const clientId = logicalIdAt(stack, 'Auth', 'UserPool', 'WebClient');
    const authorizer = resources[logicalIdAt(stack, 'Http', 'Api', 'CognitoJwt')] as TemplateResource;

    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Audience: [ref(clientId)] },
    });
    const issuer = JSON.stringify((authorizer.Properties.JwtConfiguration as { Issuer: unknown }).Issuer);
    expect(issuer).toContain('https://cognito-idp.');
    expect(issuer).toContain(`"${userPoolId}"`);
  });

  it('answers CORS preflight with the shared settings and every method the routes use', () => {
    expect(resources[logicalIdAt(stack, 'Http', 'Api')]?.Properties.CorsConfiguration).toMatchObject({
      AllowOrigins: [...httpCors.allowOrigins],
      AllowHeaders: [...httpCors.allowHeaders],
      AllowMethods: expect.arrayContaining([...new Set(httpRoutes.map((route) => route.method))]),
      MaxAge: httpCors.maxAgeSeconds,
    });
  });
});

describe('Cognito', () => {
  it('signs users in by email, lets them sign up, and enforces a strong password', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: Match.anyValue(),
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
    });
  });

  it('has a public app client: no secret, SRP and the authorization code flow only', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      AllowedOAuthFlows: ['code'],
    });
  });
});

describe('Outputs', () => {
  it.each([
    'WebSocketUrl',
    'WebSocketCallbackUrl',
    'HttpApiUrl',
    'UserPoolId',
    'UserPoolClientId',
    'MediaBucketName',
    'MediaCdnUrl',
  ])('exports %s', (name) => {
    template.hasOutput(name, { Value: Match.anyValue() });
  });

  it('gives clients the wss:// URL of the prod stage', () => {
    const url = JSON.stringify(template.toJSON().Outputs.WebSocketUrl.Value);
    expect(url).toContain('wss://');
    expect(url).toContain('/prod');
  });
});
