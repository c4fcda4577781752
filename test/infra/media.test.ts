import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BucketGrant,
  bucketTriggers,
  type FunctionName,
  type FunctionSpec,
  functions,
} from '#shared/config/functions';
import { media, mediaResponseHeaders } from '#shared/config/media';
import { Data } from '../../infra/constructs/data';
import { lockedVersion, ParleyFunction } from '../../infra/constructs/lambda-function';
import { Media, signingKeyResourceType } from '../../infra/constructs/media';
import { ParleyStack } from '../../infra/parley-stack';
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
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

const functionNames = Object.keys(functions) as FunctionName[];
// CloudFront's managed CachingOptimized policy: no query string, header or cookie in the cache key.
const cachingOptimizedPolicyId = '658327ea-f89d-4fab-a63d-7e88639e58f6';

let stack: ParleyStack;
let resources: Record<string, TemplateResource>;
let template: Template;

beforeAll(() => {
  // The template is all these tests read; the bundle test below builds its own, smaller stack.
  stack = buildParleyStack({ bundle: false });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, TemplateResource>;
}, 120_000);

const ref = (logicalId: string) => ({ Ref: logicalId });
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const objectsArn = (bucketId: string, prefix: string) => ({ 'Fn::Join': ['', [arnOf(bucketId), `/${prefix}*`]] });
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const actionsOf = (statement: PolicyStatement) => [statement.Action].flat();
const resourcesOf = (statement: PolicyStatement) => [statement.Resource].flat();

function resourcesOfType(type: string): [string, TemplateResource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

const bucketId = () => logicalIdAt(stack, 'Media', 'Bucket');
const logsBucketId = () => logicalIdAt(stack, 'Media', 'AccessLogs');
const secretId = () => logicalIdAt(stack, 'Media', 'SigningKey', 'Secret');
const distributionId = () => logicalIdAt(stack, 'Media', 'Cdn');

function functionResource(name: FunctionName): [string, TemplateResource] {
  const matches = resourcesOfType('AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties.Description === functions[name].description,
  );
  expect(matches).toHaveLength(1);
  return matches[0] as [string, TemplateResource];
}

function roleOf(fn: TemplateResource): string {
  return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

/** Every identity-policy statement in the template, with the roles it is attached to. */
function identityStatements(): { roles: string[]; statement: PolicyStatement }[] {
  return resourcesOfType('AWS::IAM::Policy').flatMap(([, policy]) => {
    const roles = (policy.Properties.Roles as { Ref: string }[]).map((role) => role.Ref);
    return (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement.map((statement) => ({
      roles,
      statement,
    }));
  });
}

function statementsOfRole(roleId: string): PolicyStatement[] {
  return identityStatements()
    .filter(({ roles }) => roles.includes(roleId))
    .map(({ statement }) => statement);
}

function bucketPolicyStatements(bucketLogicalId: string): PolicyStatement[] {
  const policies = resourcesOfType('AWS::S3::BucketPolicy').filter(([, policy]) =>
    sameJson(policy.Properties.Bucket, ref(bucketLogicalId)),
  );
  expect(policies).toHaveLength(1);
  const [, policy] = policies[0] as [string, TemplateResource];
  return (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement;
}

describe('media bucket', () => {
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
  });

  it.each([
    ['media', bucketId],
    ['access-log', logsBucketId],
  ])('denies every request to the %s bucket that is not over TLS', (_name, id) => {
    const denyInsecure = bucketPolicyStatements(id()).filter(
      (statement) =>
        statement.Effect === 'Deny' &&
        sameJson(statement.Condition, { Bool: { 'aws:SecureTransport': 'false' } }) &&
        sameJson(statement.Principal, { AWS: '*' }),
    );
    expect(denyInsecure).toHaveLength(1);
    const [statement] = denyInsecure as [PolicyStatement];
    expect(actionsOf(statement)).toEqual(['s3:*']);
    expect(resourcesOf(statement)).toEqual([arnOf(id()), { 'Fn::Join': ['', [arnOf(id()), '/*']] }]);
  });

  it('writes server access logs to the separate, private log bucket', () => {
    expect(resources[bucketId()]?.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: ref(logsBucketId()),
      LogFilePrefix: 's3/',
    });
    expect(resources[logsBucketId()]?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [expect.objectContaining({ ExpirationInDays: expect.any(Number), Status: 'Enabled' })],
      },
    });
    // Delivered under a bucket policy scoped to the media bucket, not the legacy log-delivery ACL.
    expect(resources[logsBucketId()]?.Properties.AccessControl).toBeUndefined();
    // The web app's bucket logs here too, under its own prefix (web-app.test.ts).
    expect(
      bucketPolicyStatements(logsBucketId()).filter(
        (statement) =>
          sameJson(statement.Principal, { Service: 'logging.s3.amazonaws.com' }) &&
          sameJson(statement.Resource, objectsArn(logsBucketId(), 's3/')),
      ),
    ).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: objectsArn(logsBucketId(), 's3/'),
        Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': arnOf(bucketId()) } }),
      }),
    ]);
  });

  it('lets browsers PUT uploads cross-origin with the shared CORS settings', () => {
    expect(resources[bucketId()]?.Properties.CorsConfiguration).toEqual({
      CorsRules: [
        {
          AllowedOrigins: [...media.uploadCors.allowedOrigins],
          AllowedMethods: [...media.uploadCors.allowedMethods],
          AllowedHeaders: [...media.uploadCors.allowedHeaders],
          ExposedHeaders: [...media.uploadCors.exposedHeaders],
          MaxAge: media.uploadCors.maxAgeSeconds,
        },
      ],
    });
  });

  it('expires uploads and unsent processed media after the unsent retention, and stale multipart uploads after a day', () => {
    expect(media.unsentRetentionDays).toBe(1);
    const lifecycle = resources[bucketId()]?.Properties.LifecycleConfiguration as { Rules: unknown[] } | undefined;
    const rules = lifecycle?.Rules;

    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Prefix: media.uploadPrefix,
          ExpirationInDays: media.unsentRetentionDays,
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        }),
        expect.objectContaining({
          TagFilters: [{ Key: media.retentionTag.key, Value: media.retentionTag.unsent }],
          ExpirationInDays: media.unsentRetentionDays,
          Status: 'Enabled',
        }),
      ]),
    );
    // Nothing else expires: sent media (tagged `kept`) stays.
    expect(rules).toHaveLength(2);
  });

  it('keeps both buckets when the stack is deleted, by default', () => {
    expect(resources[bucketId()]?.DeletionPolicy).toBe('Retain');
    expect(resources[logsBucketId()]?.DeletionPolicy).toBe('Retain');
  });

  it.each(bucketTriggers.map((trigger) => [trigger.prefix, trigger.function] as const))(
    'notifies %s object creations to %s',
    (prefix, fn) => {
      const [functionId] = functionResource(fn);
      template.hasResourceProperties('Custom::S3BucketNotifications', {
        BucketName: ref(bucketId()),
        NotificationConfiguration: {
          LambdaFunctionConfigurations: Match.arrayWith([
            {
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } },
              LambdaFunctionArn: arnOf(functionId),
            },
          ]),
        },
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(functionId),
        Principal: 's3.amazonaws.com',
        SourceArn: arnOf(bucketId()),
      });
    },
  );
});

describe('media CDN', () => {
  function distributionConfig(): Record<string, unknown> {
    return resources[distributionId()]?.Properties.DistributionConfig as Record<string, unknown>;
  }

  it('reaches the bucket through origin access control, never an origin access identity', () => {
    const [origin, ...others] = distributionConfig().Origins as Record<string, unknown>[];
    // The web app's distribution has an access control of its own (web-app.test.ts).
    const accessControls = resourcesOfType('AWS::CloudFront::OriginAccessControl').filter(
      ([id]) => id === logicalIdAt(stack, 'Media', 'Cdn', 'Origin1', 'S3OriginAccessControl'),
    );

    expect(others).toEqual([]);
    expect(origin?.DomainName).toEqual({ 'Fn::GetAtt': [bucketId(), 'RegionalDomainName'] });
    expect(origin?.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(accessControls).toHaveLength(1);
    const [accessControlId, accessControl] = accessControls[0] as [string, TemplateResource];
    expect(origin?.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [accessControlId, 'Id'] });
    expect(accessControl.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(resourcesOfType('AWS::CloudFront::CloudFrontOriginAccessIdentity')).toEqual([]);
  });

  it('lets CloudFront read processed media only, and only for this distribution', () => {
    const forCloudFront = bucketPolicyStatements(bucketId()).filter((statement) =>
      sameJson(statement.Principal, { Service: 'cloudfront.amazonaws.com' }),
    );

    expect(forCloudFront).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: objectsArn(bucketId(), media.mediaPrefix),
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

  it('serves only signed requests over HTTPS: GET/HEAD, the trusted key group, no query string in the cache key', () => {
    const keyGroupId = logicalIdAt(stack, 'Media', 'SigningKey', 'KeyGroup');
    const publicKeyId = logicalIdAt(stack, 'Media', 'SigningKey', 'PublicKey');
    const config = distributionConfig();

    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      AllowedMethods: ['GET', 'HEAD'],
      CachedMethods: ['GET', 'HEAD'],
      TrustedKeyGroups: [ref(keyGroupId)],
      CachePolicyId: cachingOptimizedPolicyId,
    });
    expect(config.CacheBehaviors).toBeUndefined();
    expect(config).toMatchObject({ HttpVersion: 'http2and3', PriceClass: 'PriceClass_100', Enabled: true });
    expect(resources[keyGroupId]?.Properties.KeyGroupConfig).toMatchObject({ Items: [ref(publicKeyId)] });
  });

  it('answers with nosniff, a sandboxing CSP, no framing and CORS from mediaResponseHeaders, overriding the object', () => {
    const policyId = (distributionConfig().DefaultCacheBehavior as { ResponseHeadersPolicyId: { Ref: string } })
      .ResponseHeadersPolicyId.Ref;
    expect(resources[policyId]?.Type).toBe('AWS::CloudFront::ResponseHeadersPolicy');
    const config = resources[policyId]?.Properties.ResponseHeadersPolicyConfig as Record<string, unknown>;
    const { security, cors } = mediaResponseHeaders;

    expect(config.SecurityHeadersConfig).toEqual({
      ContentTypeOptions: { Override: true },
      ContentSecurityPolicy: { ContentSecurityPolicy: security['content-security-policy'], Override: true },
      FrameOptions: { FrameOption: security['x-frame-options'], Override: true },
      ReferrerPolicy: { ReferrerPolicy: security['referrer-policy'], Override: true },
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
    });
    expect(security['x-content-type-options']).toBe('nosniff');
    expect(security['content-security-policy']).toMatch(/(^|; )sandbox(;|$)/);
    expect(security['content-security-policy']).toMatch(/(^|; )default-src 'none'(;|$)/);
    expect(config.CorsConfig).toEqual({
      AccessControlAllowCredentials: false,
      AccessControlAllowOrigins: { Items: cors.allowOrigins },
      AccessControlAllowMethods: { Items: cors.allowMethods },
      AccessControlAllowHeaders: { Items: cors.allowHeaders },
      AccessControlExposeHeaders: { Items: cors.exposeHeaders },
      AccessControlMaxAgeSec: cors.maxAgeSeconds,
      OriginOverride: true,
    });
  });

  it('writes standard logs to the log bucket', () => {
    expect(distributionConfig().Logging).toEqual({
      Bucket: { 'Fn::GetAtt': [logsBucketId(), 'RegionalDomainName'] },
      Prefix: 'cloudfront/',
    });
  });
});

describe('media signing key', () => {
  it('creates the key pair at deploy time with a custom resource writing the CDK-made secret', () => {
    const keyPairs = resourcesOfType(signingKeyResourceType);
    expect(keyPairs).toHaveLength(1);
    const [keyPairId, keyPair] = keyPairs[0] as [string, TemplateResource];

    expect(keyPair.Properties.SecretArn).toEqual(ref(secretId()));
    const serviceToken = keyPair.Properties.ServiceToken as { 'Fn::GetAtt': [string, string] };
    expect(resources[serviceToken['Fn::GetAtt'][0]]?.Type).toBe('AWS::Lambda::Function');
    expect(resources[logicalIdAt(stack, 'Media', 'SigningKey', 'PublicKey')]?.Properties.PublicKeyConfig).toMatchObject(
      {
        EncodedKey: { 'Fn::GetAtt': [keyPairId, 'PublicKey'] },
      },
    );
    // The private key is worthless without the stack's public key: it leaves with the stack.
    expect(resources[secretId()]?.DeletionPolicy).toBe('Delete');
  });

  it('runs the generator on Node.js 22 arm64, allowed to write and read that one secret only', () => {
    const generators = resourcesOfType('AWS::Lambda::Function').filter(([, fn]) =>
      String(fn.Properties.Description).startsWith('Deploy time: creates the media signing key pair'),
    );
    expect(generators).toHaveLength(1);
    const [, generator] = generators[0] as [string, TemplateResource];
    const roleId = roleOf(generator);

    expect(generator.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
    expect(resources[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
    const secretStatements = statementsOfRole(roleId).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
        Resource: ref(secretId()),
      },
    ]);
  });

  it('lets only the URL-signing handlers and the generator read the secret', () => {
    const signers = functionNames.filter((name) => (functions[name] as FunctionSpec).signsMediaUrls);
    const generatorRole = logicalIdAt(stack, 'Media', 'SigningKey', 'Generator', 'Role');
    const allowedReaders = new Set([...signers.map((name) => roleOf(functionResource(name)[1])), generatorRole]);

    // The VAPID key's secret has readers of its own (test/infra/security.test.ts).
    const vapidSecret = ref(logicalIdAt(stack, 'Push', 'VapidPrivateKey'));
    const touchingSecret = identityStatements().filter(
      ({ statement }) =>
        !resourcesOf(statement).every((resource) => sameJson(resource, vapidSecret)) &&
        (actionsOf(statement).some((action) => action.startsWith('secretsmanager:')) ||
          resourcesOf(statement).some((resource) => sameJson(resource, ref(secretId())))),
    );
    const readers = touchingSecret
      .filter(({ statement }) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
      .flatMap(({ roles }) => roles);

    expect(signers.length).toBeGreaterThan(0);
    expect(new Set(readers)).toEqual(allowedReaders);
    for (const { roles, statement } of touchingSecret) {
      expect(resourcesOf(statement)).toEqual([ref(secretId())]);
      if (!roles.includes(generatorRole)) expect(actionsOf(statement)).toEqual(['secretsmanager:GetSecretValue']);
    }
    expect(resourcesOfType('AWS::SecretsManager::ResourcePolicy')).toEqual([]);
  });
});

describe('media IAM, per function', () => {
  it.each(functionNames)('grants %s exactly its catalog S3 actions, each on its prefix only', (name) => {
    const spec: FunctionSpec = functions[name];
    const [, fn] = functionResource(name);
    const s3Statements = statementsOfRole(roleOf(fn)).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('s3:')),
    );
    const grants: readonly BucketGrant[] = spec.bucket ?? [];

    expect(s3Statements).toHaveLength(grants.length);
    for (const grant of grants) {
      const onPrefix = s3Statements.filter((statement) =>
        sameJson(resourcesOf(statement), [objectsArn(bucketId(), grant.prefix)]),
      );
      expect(onPrefix, `${name} on ${grant.prefix}`).toHaveLength(1);
      expect(new Set(actionsOf(onPrefix[0] as PolicyStatement))).toEqual(new Set(grant.actions));
    }
  });

  it('grants no wildcard action anywhere in the stack but to the web app upload', () => {
    // CDK's BucketDeployment grants wildcard S3 actions on the asset and site buckets only (web-app.test.ts pins them).
    const webDeploymentRole = logicalIdAt(stack, 'Web', 'DeploymentRole');
    const wildcards = identityStatements()
      .filter(({ roles }) => !roles.includes(webDeploymentRole))
      .flatMap(({ statement }) => actionsOf(statement))
      .filter((action) => action.includes('*'));
    expect(wildcards).toEqual([]);
  });
});

describe('media with stateful resources destroyed', () => {
  let destroyStack: ParleyStack;

  beforeAll(() => {
    destroyStack = new ParleyStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'ParleyStack', {
      statefulRemovalPolicy: RemovalPolicy.DESTROY,
    });
  }, 120_000);

  it('empties and deletes both buckets', () => {
    const destroyResources = Template.fromStack(destroyStack).toJSON().Resources as Record<string, TemplateResource>;
    for (const path of ['Bucket', 'AccessLogs']) {
      const id = logicalIdAt(destroyStack, 'Media', path);
      expect(destroyResources[id]?.DeletionPolicy).toBe('Delete');
      expect(
        Object.values(destroyResources).some(
          (resource) =>
            resource.Type === 'Custom::S3AutoDeleteObjects' && sameJson(resource.Properties.BucketName, ref(id)),
        ),
      ).toBe(true);
    }
  });

  it('still passes cdk-nag AwsSolutions', () => {
    const { violations } = new AwsSolutionsChecks().validateScope(destroyStack);
    const findings = violations.map(
      (violation) =>
        `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.constructPath).join(', ')}`,
    );
    expect(findings, findings.join('\n')).toEqual([]);
  });
});

describe('media bundles', () => {
  let processBundle: string;
  let generatorBundle: string;

  /** Where the function created under `scope` (as `Function`) had its code staged. */
  function bundleDirectory(app: App, scope: IConstruct): string {
    const asset = scope.node.findChild('Function').node.findChild('Code') as Asset;
    return join(app.outdir, asset.assetPath);
  }

  beforeAll(() => {
    // Only what mediaProcess needs, bundled for real: the native install is what is under test.
    const app = new App();
    const bundled = new Stack(app, 'MediaBundles');
    const data = new Data(bundled, 'Data', { removalPolicy: RemovalPolicy.DESTROY });
    const mediaStore = new Media(bundled, 'Media', { removalPolicy: RemovalPolicy.DESTROY });
    const processor = new ParleyFunction(bundled, 'MediaProcess', {
      spec: functions.mediaProcess,
      tables: data.tables,
      webSocket: { callbackUrl: 'https://unused.example', connectionsArn: 'arn:aws:execute-api:us-east-1:1:unused/*' },
      jwt: { issuer: 'https://unused.example', audience: 'unused', jwksUri: 'https://unused.example/jwks.json' },
      media: mediaStore,
      // mediaProcess signs no pushes: a placeholder key and secret, not the deploy-time generator.
      push: { vapidPublicKey: 'unused', vapidPrivateKeySecret: new Secret(bundled, 'UnusedVapidKey') },
    });
    processBundle = bundleDirectory(app, processor);
    generatorBundle = bundleDirectory(app, mediaStore.signingKey.node.findChild('Generator'));
  }, 300_000);

  it('installs sharp for linux arm64 glibc beside the mediaProcess bundle, at the locked version', () => {
    const modules = join(processBundle, 'node_modules');
    const sharpPackage = JSON.parse(readFileSync(join(modules, 'sharp', 'package.json'), 'utf8')) as {
      version: string;
    };
    const imagePackages = readdirSync(join(modules, '@img'));

    expect(sharpPackage.version).toBe(lockedVersion('sharp'));
    expect(imagePackages).toEqual(expect.arrayContaining(['sharp-linux-arm64', 'sharp-libvips-linux-arm64']));
    expect(imagePackages.filter((name) => /x64|darwin|win32|musl|wasm/.test(name))).toEqual([]);
    expect(existsSync(join(processBundle, 'package.json'))).toBe(false);
  });

  it('leaves sharp out of index.mjs, which imports it from node_modules', () => {
    const source = readFileSync(join(processBundle, 'index.mjs'), 'utf8');

    expect(source).toMatch(/from\s*["']sharp["']|import\(\s*["']sharp["']\s*\)/);
    // A message from sharp's own loader: present only if sharp's code was inlined.
    expect(source).not.toContain('Could not load the "sharp" module');
  });

  it('bundles the Secrets Manager client into the signing key generator', () => {
    const source = readFileSync(join(generatorBundle, 'index.mjs'), 'utf8');

    expect(source).not.toMatch(/from\s*["']@aws-sdk\//);
    expect(source).toContain('PutSecretValue');
    expect(existsSync(join(generatorBundle, 'node_modules'))).toBe(false);
    expect(statSync(join(generatorBundle, 'index.mjs')).size).toBeLessThan(1024 * 1024);
  });
});
