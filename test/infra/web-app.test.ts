import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import { type WebConfig, webAuthCallbackPath, webConfigPath } from '#shared/config/web';
import { Auth } from '../../infra/constructs/auth';
import { deploymentHandlerDescription } from '../../infra/constructs/web-app';
import { ParleyStack } from '../../infra/parley-stack';
import { buildParleyStack, logicalIdAt } from './parley-stack';

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly DependsOn?: string[];
}

interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

let stack: ParleyStack;
let resources: Record<string, TemplateResource>;
let outputs: Record<string, { Value: unknown }>;

beforeAll(() => {
  // Not bundled: the template and the config.json asset are all these tests read, and the Vite build must not run.
  stack = buildParleyStack({ bundle: false });
  const template = Template.fromStack(stack).toJSON();
  resources = template.Resources as Record<string, TemplateResource>;
  outputs = template.Outputs as Record<string, { Value: unknown }>;
}, 120_000);

const ref = (logicalId: string) => ({ Ref: logicalId });
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const bucketId = () => logicalIdAt(stack, 'Web', 'Bucket');
const distributionId = () => logicalIdAt(stack, 'Web', 'Cdn');
const clientId = () => logicalIdAt(stack, 'Auth', 'UserPool', 'WebClient');
const domainId = () => logicalIdAt(stack, 'Auth', 'UserPool', 'HostedLogin');

function resourcesOfType(type: string): [string, TemplateResource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

/** A deploy-time value as text: `${Id}` for a Ref, `${Id.Attribute}` for a GetAtt, joins joined. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isRecord(value)) {
    if (typeof value.Ref === 'string') return `\${${value.Ref}}`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
    const joined = value['Fn::Join'];
    if (Array.isArray(joined)) {
      const [separator, parts] = joined as [string, unknown[]];
      return parts.map(render).join(separator);
    }
  }
  return JSON.stringify(value);
}

function distributionConfig(): Record<string, unknown> {
  return resources[distributionId()]?.Properties.DistributionConfig as Record<string, unknown>;
}

function bucketPolicyStatements(bucketLogicalId: string): PolicyStatement[] {
  const policies = resourcesOfType('AWS::S3::BucketPolicy').filter(([, policy]) =>
    sameJson(policy.Properties.Bucket, ref(bucketLogicalId)),
  );
  expect(policies).toHaveLength(1);
  const [, policy] = policies[0] as [string, TemplateResource];
  return (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement;
}

/** The site's two deployments: the hashed assets (no invalidation) and the shell with config.json. */
function deployments(): { assets: [string, TemplateResource]; shell: [string, TemplateResource] } {
  const all = resourcesOfType('Custom::CDKBucketDeployment').filter(([, deployment]) =>
    sameJson(deployment.Properties.DestinationBucketName, ref(bucketId())),
  );
  expect(all).toHaveLength(2);
  const shell = all.find(([, deployment]) => deployment.Properties.DistributionId !== undefined);
  const assets = all.find(([, deployment]) => deployment.Properties.DistributionId === undefined);
  if (!shell || !assets) throw new Error('Expected one deployment invalidating the distribution and one not');
  return { assets, shell };
}

/** config.json as it will be deployed, each deploy-time value rendered by `render`. */
function deployedConfig(): unknown {
  const [, shell] = deployments().shell;
  const keys = shell.Properties.SourceObjectKeys as string[];
  const markers = shell.Properties.SourceMarkers as Record<string, unknown>[];
  const last = keys.length - 1;
  // Source.jsonData stages its file as a directory asset in the assembly, named by the zip's hash.
  const assetDir = join((stack.node.root as App).outdir, `asset.${keys[last]?.replace(/\.zip$/, '')}`);
  let text = readFileSync(join(assetDir, webConfigPath), 'utf8');
  for (const [marker, value] of Object.entries(markers[last] ?? {})) text = text.replaceAll(marker, render(value));
  return JSON.parse(text);
}

describe('web app bucket', () => {
  it('is private: all public access blocked, bucket-owner-enforced ownership, S3-managed encryption', () => {
    expect(resources[bucketId()]?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    expect(resources[bucketId()]?.Properties.WebsiteConfiguration).toBeUndefined();
  });

  it('denies every request that is not over TLS 1.2 or later', () => {
    const bucketAndObjects = [arnOf(bucketId()), { 'Fn::Join': ['', [arnOf(bucketId()), '/*']] }];
    const denials = bucketPolicyStatements(bucketId()).filter((statement) => statement.Effect === 'Deny');

    expect(denials).toEqual([
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:*',
        Resource: bucketAndObjects,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:*',
        Resource: bucketAndObjects,
        Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      },
    ]);
  });

  it('lets only this distribution read objects, and nobody list or write through the bucket policy', () => {
    const allows = bucketPolicyStatements(bucketId()).filter((statement) => statement.Effect === 'Allow');

    expect(allows).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [arnOf(bucketId()), '/*']] },
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  ref('AWS::Partition'),
                  ':cloudfront::',
                  ref('AWS::AccountId'),
                  ':distribution/',
                  ref(distributionId()),
                ],
              ],
            },
          },
        },
      },
    ]);
  });

  it('writes server access logs to the media log bucket under web/s3/, allowed by its bucket policy', () => {
    const logsBucketId = logicalIdAt(stack, 'Media', 'AccessLogs');

    expect(resources[bucketId()]?.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: ref(logsBucketId),
      LogFilePrefix: 'web/s3/',
    });
    expect(bucketPolicyStatements(logsBucketId)).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [arnOf(logsBucketId), '/web/s3/*']] },
        Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': arnOf(bucketId()) } }),
      }),
    );
  });

  it('is kept when the stack is deleted, by default', () => {
    expect(resources[bucketId()]?.DeletionPolicy).toBe('Retain');
  });
});

describe('web app CDN', () => {
  it('reaches the bucket through origin access control, never an origin access identity', () => {
    const [origin, ...others] = distributionConfig().Origins as Record<string, unknown>[];
    const accessControl = origin?.OriginAccessControlId as { 'Fn::GetAtt': [string, string] } | undefined;
    const accessControlId = accessControl?.['Fn::GetAtt'][0] ?? '';

    expect(others).toEqual([]);
    expect(origin?.DomainName).toEqual({ 'Fn::GetAtt': [bucketId(), 'RegionalDomainName'] });
    expect(origin?.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(resources[accessControlId]?.Type).toBe('AWS::CloudFront::OriginAccessControl');
    expect(resources[accessControlId]?.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
  });

  it('redirects HTTP to HTTPS, serves GET/HEAD compressed, with the security headers policy', () => {
    const behavior = distributionConfig().DefaultCacheBehavior as Record<string, unknown>;
    const policyId = (behavior.ResponseHeadersPolicyId as { Ref: string }).Ref;
    const policy = resources[policyId]?.Properties.ResponseHeadersPolicyConfig as Record<string, unknown> | undefined;
    const headers = policy?.SecurityHeadersConfig;

    expect(behavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
      CachedMethods: ['GET', 'HEAD'],
      Compress: true,
    });
    expect(resources[policyId]?.Type).toBe('AWS::CloudFront::ResponseHeadersPolicy');
    expect(headers).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 365 * 24 * 60 * 60, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
    });
  });

  it('serves index.html at the root and for every unknown path (/callback, deep links)', () => {
    const config = distributionConfig();

    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.CustomErrorResponses).toEqual(
      [403, 404].map((code) =>
        expect.objectContaining({ ErrorCode: code, ResponseCode: 200, ResponsePagePath: '/index.html' }),
      ),
    );
  });

  it('uses price class 100 and writes standard logs to the media log bucket under web/cloudfront/', () => {
    const config = distributionConfig();

    expect(config.PriceClass).toBe('PriceClass_100');
    expect(config.Logging).toEqual({
      Bucket: { 'Fn::GetAtt': [logicalIdAt(stack, 'Media', 'AccessLogs'), 'RegionalDomainName'] },
      Prefix: 'web/cloudfront/',
    });
  });

  it('outputs its https URL as WebAppUrl', () => {
    expect(render(outputs.WebAppUrl?.Value)).toBe(`https://\${${distributionId()}.DomainName}`);
  });
});

describe('web app deployment', () => {
  it('uploads the hashed assets first, kept across releases and cached for a year', () => {
    const { assets, shell } = deployments();
    const [assetsId, { Properties: properties }] = assets;

    expect(properties).toMatchObject({
      Exclude: ['*'],
      Include: ['assets/*'],
      Prune: false,
      SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' },
    });
    expect(properties.SourceObjectKeys).toHaveLength(1);
    expect(shell[1].DependsOn).toContain(assetsId);
  });

  it('then the rest of the same build and config.json, revalidated on every load, invalidating the CDN', () => {
    const { assets, shell } = deployments();
    const properties = shell[1].Properties;
    const keys = properties.SourceObjectKeys as string[];

    expect(properties).toMatchObject({
      Exclude: ['assets/*'],
      Prune: true,
      SystemMetadata: { 'cache-control': 'no-cache' },
      DistributionId: ref(distributionId()),
      DistributionPaths: ['/*'],
    });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe((assets[1].Properties.SourceObjectKeys as string[])[0]);
    expect(properties.SourceMarkersConfig).toEqual([{}, { jsonEscape: true }]);
  });

  it('writes config.json from deploy-time values: API URLs, the Cognito domain, client id and scopes', () => {
    const config = deployedConfig();
    const client = resources[clientId()]?.Properties;
    const expected: WebConfig = {
      httpUrl: `\${${logicalIdAt(stack, 'Http', 'Api')}.ApiEndpoint}`,
      wsUrl: render(outputs.WebSocketUrl?.Value),
      auth: {
        kind: 'cognito',
        domain: `https://\${${domainId()}}.auth.\${AWS::Region}.amazoncognito.com`,
        clientId: `\${${clientId()}}`,
        scopes: ['openid', 'email', 'profile'],
      },
    };

    expect(config).toEqual(expected);
    expect(expected.wsUrl).toBe(
      `wss://\${${logicalIdAt(stack, 'Realtime', 'Api')}}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/prod`,
    );
    // The API endpoint (no trailing slash) is the base URL because routes live on the $default stage.
    expect(resources[logicalIdAt(stack, 'Http', 'DefaultStage')]?.Properties.StageName).toBe('$default');
    expect(client?.AllowedOAuthScopes).toEqual(expected.auth.kind === 'cognito' && expected.auth.scopes);
    expect(render(outputs.CognitoDomain?.Value)).toBe(expected.auth.kind === 'cognito' && expected.auth.domain);
  });

  it('runs the upload on its own role: its own log group, no managed policy, only the grants CDK makes', () => {
    const roleId = logicalIdAt(stack, 'Web', 'DeploymentRole');
    const handlers = resourcesOfType('AWS::Lambda::Function').filter(
      ([, fn]) => fn.Properties.Description === deploymentHandlerDescription,
    );
    const statements = resourcesOfType('AWS::IAM::Policy')
      .filter(([, policy]) => sameJson(policy.Properties.Roles, [ref(roleId)]))
      .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);

    expect(handlers).toHaveLength(1);
    const [, handler] = handlers[0] as [string, TemplateResource];
    expect(handler.Properties.Role).toEqual(arnOf(roleId));
    const layers = handler.Properties.Layers as { Ref: string }[];
    expect(layers.map((layer) => resources[layer.Ref]?.Type)).toEqual(['AWS::Lambda::LayerVersion']);
    // One AWS CLI layer for the site, though each deployment adds one: only the handler's is kept.
    const webLayers = resourcesOfType('AWS::Lambda::LayerVersion').filter(([id]) => id.startsWith('Web'));
    expect(webLayers.map(([id]) => id)).toEqual(layers.map((layer) => layer.Ref));
    expect(handler.Properties.LoggingConfig).toEqual({ LogGroup: ref(logicalIdAt(stack, 'Web', 'DeploymentLogs')) });
    expect(resources[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
    const assetBucket = expect.stringContaining('cdk-hnb659fds-assets-');
    expect(statements.map((statement) => [statement.Action, [statement.Resource].flat().map(render)])).toEqual([
      [['logs:CreateLogStream', 'logs:PutLogEvents'], [`\${${logicalIdAt(stack, 'Web', 'DeploymentLogs')}.Arn}`]],
      [
        ['s3:GetObject*', 's3:GetBucket*', 's3:List*'],
        [assetBucket, assetBucket],
      ],
      [
        [
          's3:GetObject*',
          's3:GetBucket*',
          's3:List*',
          's3:DeleteObject*',
          's3:PutObject',
          's3:PutObjectLegalHold',
          's3:PutObjectRetention',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
          's3:Abort*',
        ],
        [`\${${bucketId()}.Arn}`, `\${${bucketId()}.Arn}/*`],
      ],
      [['cloudfront:GetInvalidation', 'cloudfront:CreateInvalidation'], ['*']],
    ]);
  });

  it('does not build the web app when the stack is not bundled: the asset points at the checkout', () => {
    const build = stack.node.findChild('Web').node.findChild('Build') as Asset;
    expect(resolve(build.assetPath)).toBe(resolve(repositoryRoot));
  });

  it('empties and deletes the site bucket when stateful resources are destroyed', () => {
    const destroyStack = new ParleyStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'ParleyStack', {
      statefulRemovalPolicy: RemovalPolicy.DESTROY,
    });
    const destroyResources = Template.fromStack(destroyStack).toJSON().Resources as Record<string, TemplateResource>;
    const id = logicalIdAt(destroyStack, 'Web', 'Bucket');

    expect(destroyResources[id]?.DeletionPolicy).toBe('Delete');
    expect(
      Object.values(destroyResources).some(
        (resource) =>
          resource.Type === 'Custom::S3AutoDeleteObjects' && sameJson(resource.Properties.BucketName, ref(id)),
      ),
    ).toBe(true);
  });
});

describe('Cognito hosted login', () => {
  it('gives the user pool a Cognito domain named after the stack and its deploy-time UUID', () => {
    const domain = resources[domainId()];

    expect(domain?.Type).toBe('AWS::Cognito::UserPoolDomain');
    expect(domain?.Properties.UserPoolId).toEqual(ref(logicalIdAt(stack, 'Auth', 'UserPool')));
    expect(domain?.Properties.Domain).toEqual(stackUuidPrefix('parleystack-'));
    expect(render(outputs.CognitoDomain?.Value)).toBe(
      `https://\${${domainId()}}.auth.\${AWS::Region}.amazoncognito.com`,
    );
  });

  it.each([
    ['ParleyStack', 'parleystack-'],
    ['My-AWS-Chat-Cognito-Stack', 'my-chat-stack-'],
    ['Aawsws-Amazonia', 'ia-'],
    ['AWS', 'parley-'],
    [`P${'x'.repeat(100)}`, `p${'x'.repeat(39)}-`],
  ])('derives a valid prefix from the stack name %s: %s, then 8 hex digits', (stackName, literal) => {
    const authStack = new Stack(new App(), 'AuthOnly', { stackName });
    new Auth(authStack, 'Auth');
    const [domain] = Object.values(Template.fromStack(authStack).findResources('AWS::Cognito::UserPoolDomain'));

    expect(domain?.Properties.Domain).toEqual(stackUuidPrefix(literal));
    // 8 hex digits follow: the whole prefix stays within Cognito's 63 characters and its pattern.
    expect(`${literal}0123abcd`).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
    expect(`${literal}0123abcd`).not.toMatch(/aws|amazon|cognito/);
  });

  it('lets the web client return to the distribution: /callback for the code, / after sign-out', () => {
    const client = resources[clientId()]?.Properties;
    const site = `https://\${${distributionId()}.DomainName}`;

    expect(((client?.CallbackURLs ?? []) as unknown[]).map(render)).toEqual([
      `http://localhost:5173${webAuthCallbackPath}`,
      'http://localhost:5173/',
      `${site}${webAuthCallbackPath}`,
    ]);
    expect(((client?.LogoutURLs ?? []) as unknown[]).map(render)).toEqual(['http://localhost:5173/', `${site}/`]);
    expect(client).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      GenerateSecret: false,
      SupportedIdentityProviders: ['COGNITO'],
    });
  });
});

/** `{literal}{first group of the stack's UUID}`, as CloudFormation functions. */
function stackUuidPrefix(literal: string): unknown {
  const stackUuid = { 'Fn::Select': [2, { 'Fn::Split': ['/', ref('AWS::StackId')] }] };
  return { 'Fn::Join': ['', [literal, { 'Fn::Select': [0, { 'Fn::Split': ['-', stackUuid] }] }]] };
}
