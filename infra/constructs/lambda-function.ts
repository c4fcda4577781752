import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IFunction, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import type { JwtSettings } from '#shared/auth/jwt';
import { bundleDefines, handlerBundling } from '#shared/config/bundling';
import { envVars } from '#shared/config/env';
import {
  type FunctionName,
  type FunctionSpec,
  functionDefaults,
  functions,
  memoryMbOf,
} from '#shared/config/functions';
import { lambdaSystemLogLevel, serviceName } from '#shared/config/monitoring';
import { type TableKey, type TableSpec, tables as tableSpecs } from '#shared/config/tables';

/** Every handler in the catalog, by its name in `shared/config/functions`. */
export type Handlers = Readonly<Record<FunctionName, IFunction>>;

/** The part of the WebSocket API that handlers pushing to connections need. */
export interface ConnectionsEndpoint {
  /** `https://{api}.execute-api.{region}.amazonaws.com/{stage}`: the management API endpoint. */
  readonly callbackUrl: string;
  /** ARN pattern covering the stage's `@connections/{connectionId}` resources. */
  readonly connectionsArn: string;
}

/** The part of the media store that handlers uploading, processing or signing downloads need. */
export interface MediaEndpoint {
  /** The private bucket; handlers with `bucket` grants get its name and rights on their prefixes. */
  readonly bucket: IBucket;
  /** `https://{distribution domain}`: a download URL is this plus `/` and the object key. */
  readonly cdnUrl: string;
  /** Id of the CloudFront public key in the distribution's trusted key group. */
  readonly keyPairId: string;
  /** Holds the matching private key (PEM); readable only by handlers with `signsMediaUrls`. */
  readonly signingKeySecret: ISecret;
}

/** The VAPID key pair for Web Push: the public key as text, the private key in a secret. */
export interface PushEndpoint {
  /** Uncompressed P-256 point, base64url: served to clients, and signed with. */
  readonly vapidPublicKey: string;
  /** Holds the private key; readable only by handlers with `vapidPrivateKey`. */
  readonly vapidPrivateKeySecret: ISecret;
}

export interface HandlerDependencies {
  /** The tables built from `shared/config/tables`, by key: grants and table-name variables. */
  readonly tables: Readonly<Record<TableKey, ITable>>;
  /** For handlers whose spec sets `manageConnections`. */
  readonly webSocket: ConnectionsEndpoint;
  /** For handlers whose spec sets `verifiesJwt`. */
  readonly jwt: JwtSettings;
  /** For handlers whose spec sets `bucket` or `signsMediaUrls`. */
  readonly media: MediaEndpoint;
  /** For handlers whose spec sets `vapidPublicKey` or `vapidPrivateKey`. */
  readonly push: PushEndpoint;
}

export interface ParleyFunctionProps extends HandlerDependencies {
  readonly spec: FunctionSpec;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
// npm's names for the Lambda platform below: native packages are installed for it, not for the build machine.
const lambdaPlatform = { os: 'linux', cpu: 'arm64', libc: 'glibc' } as const;

export interface BundledFunctionProps {
  /** Path of the handler file from the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment?: Readonly<Record<string, string>>;
  /** @default `Parley {scope id}` */
  readonly roleDescription?: string;
  /** Packages kept out of the bundle and installed for the Lambda platform beside `index.mjs`. */
  readonly nativeModules?: readonly string[];
  /**
   * Active X-Ray tracing; CDK grants the role `xray:PutTraceSegments` and `xray:PutTelemetryRecords`.
   * @default false
   */
  readonly tracing?: boolean;
  /** esbuild `define` values for this function's bundle (see `bundleDefines`). */
  readonly define?: Readonly<Record<string, string>>;
}

export interface BundledFunction {
  readonly function: NodejsFunction;
  /** The function's own role: it may write to its log group and nothing else until granted more. */
  readonly role: Role;
}

/**
 * A Node.js 22 arm64 function bundled as ESM, with its own role and log group, created as the
 * children `Logs`, `Role` and `Function` of `scope`. Handlers and deploy-time helpers share it.
 */
export function createBundledFunction(scope: Construct, props: BundledFunctionProps): BundledFunction {
  const logGroup = new LogGroup(scope, 'Logs', {
    retention: RetentionDays.ONE_MONTH,
  });
  // An own role rather than the default one: no AWSLambdaBasicExecutionRole, logs only to this group.
  const role = new Role(scope, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription ?? `Parley ${scope.node.id}`,
  });
  logGroup.grantWrite(role);
  const nativeModules = props.nativeModules ?? [];

  const fn = new NodejsFunction(scope, 'Function', {
    entry: `${repositoryRoot}${props.entry}`,
    handler: 'handler',
    description: props.description,
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: props.memoryMb,
    timeout: Duration.seconds(props.timeoutSeconds),
    role,
    logGroup,
    // JSON, so that Lambda's own lines can be filtered by level (the handlers' Powertools lines are JSON already).
    loggingFormat: LoggingFormat.JSON,
    systemLogLevelV2: SystemLogLevel[lambdaSystemLogLevel],
    ...(props.tracing ? { tracing: Tracing.ACTIVE } : {}),
    projectRoot: repositoryRoot,
    depsLockFilePath: `${repositoryRoot}package-lock.json`,
    environment: {
      POWERTOOLS_SERVICE_NAME: serviceName,
      ...props.environment,
    },
    bundling: {
      format: OutputFormat.ESM,
      target: handlerBundling.target,
      minify: handlerBundling.minify,
      sourceMap: handlerBundling.sourceMap,
      mainFields: [...handlerBundling.mainFields],
      banner: handlerBundling.banner,
      ...(props.define ? { define: { ...props.define } } : {}),
      esbuildArgs: Object.fromEntries(
        Object.entries(handlerBundling.aliases).map(([module, path]) => [
          `--alias:${module}`,
          `${repositoryRoot}${path}`,
        ]),
      ),
      // Only native modules stay out; the AWS SDK v3 is bundled too: a pinned, tree-shaken copy, not the runtime's.
      externalModules: [...nativeModules],
      ...(nativeModules.length > 0 ? { commandHooks: installForLambda(nativeModules) } : {}),
    },
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Node.js 22 is the chosen runtime and the esbuild target is node22; a newer runtime is adopted by moving both together, not by each CDK release.',
  });
  return { function: fn, role };
}

/**
 * Bundling hooks that install `modules` at their locked versions into the bundle's own
 * node_modules, for the Lambda platform whatever machine builds: prebuilt binaries, no scripts.
 */
function installForLambda(modules: readonly string[]): ICommandHooks {
  const packages = modules.map((name) => `${name}@${lockedVersion(name)}`).join(' ');
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) => [
      // --prefix: without it npm climbs to the repository's package.json and installs there.
      `npm install --prefix "${outputDir}" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --os=${lambdaPlatform.os} --cpu=${lambdaPlatform.cpu} --libc=${lambdaPlatform.libc} ${packages}`,
    ],
  };
}

interface PackageLock {
  readonly packages?: Readonly<Record<string, { readonly version?: string }>>;
}

/** The exact version package-lock.json pins for a top-level dependency: what the tests ran against. */
export function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(`${repositoryRoot}package-lock.json`, 'utf8')) as PackageLock;
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json; add it to package.json first`);
  return version;
}

/**
 * One handler from the catalog as a bundled Node.js 22 arm64 function, with its own role holding
 * exactly the table, bucket and secret actions its spec lists, and its own log group.
 */
export class ParleyFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: ParleyFunctionProps) {
    super(scope, id);
    const { spec } = props;
    const { function: fn, role } = createBundledFunction(this, {
      entry: spec.entry,
      description: spec.description,
      memoryMb: memoryMbOf(spec),
      timeoutSeconds: spec.timeoutSeconds ?? functionDefaults.timeoutSeconds,
      environment: environmentFor(spec, props),
      nativeModules: spec.nativeModules,
      // Every handler is traced; Powertools' tracer also records each AWS SDK call unless the spec leaves it out.
      tracing: true,
      define: bundleDefines(spec),
    });
    this.function = fn;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions: X-Ray documents both with Resource "*".',
    });

    for (const grant of spec.tables) {
      const table = props.tables[grant.table];
      const tableSpec: TableSpec = tableSpecs[grant.table];
      // Query is the only listed action that reads an index; name each index instead of index/*.
      const indexArns = grant.actions.includes('Query')
        ? (tableSpec.globalIndexes ?? []).map((index) => `${table.tableArn}/index/${index.indexName}`)
        : [];
      Grant.addToPrincipal({
        grantee: role,
        actions: grant.actions.map((action) => `dynamodb:${action}`),
        resourceArns: [table.tableArn, ...indexArns],
      });
    }

    if (spec.manageConnections) {
      Grant.addToPrincipal({
        grantee: role,
        actions: ['execute-api:ManageConnections'],
        resourceArns: [props.webSocket.connectionsArn],
      });
      Validations.of(role).acknowledge({
        id: wildcardResourceFinding(this, props.webSocket.connectionsArn),
        reason:
          'Connection ids are only known at run time; the wildcard stays inside this API stage @connections resources.',
      });
    }

    for (const grant of spec.bucket ?? []) {
      const objects = props.media.bucket.arnForObjects(`${grant.prefix}*`);
      Grant.addToPrincipal({ grantee: role, actions: [...grant.actions], resourceArns: [objects] });
      Validations.of(role).acknowledge({
        id: wildcardResourceFinding(this, objects),
        reason: `Object keys hold run-time conversation and attachment ids; the wildcard stays under the ${grant.prefix} prefix and grants only the catalog's actions.`,
      });
    }

    if (spec.signsMediaUrls) {
      // GetSecretValue alone: the key is read, never described, listed or changed.
      Grant.addToPrincipal({
        grantee: role,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [props.media.signingKeySecret.secretArn],
      });
    }

    if (spec.vapidPrivateKey) {
      Grant.addToPrincipal({
        grantee: role,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [props.push.vapidPrivateKeySecret.secretArn],
      });
    }
  }
}

/** Builds every handler in `shared/config/functions`, each under its catalog name in PascalCase. */
export function createHandlers(scope: Construct, dependencies: HandlerDependencies): Handlers {
  const handlers = {} as Record<FunctionName, IFunction>;
  for (const name of Object.keys(functions) as FunctionName[]) {
    const id = name.charAt(0).toUpperCase() + name.slice(1);
    handlers[name] = new ParleyFunction(scope, id, { ...dependencies, spec: functions[name] }).function;
  }
  return handlers;
}

function environmentFor(spec: FunctionSpec, props: ParleyFunctionProps): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const grant of spec.tables) {
    environment[tableSpecs[grant.table].envVar] = props.tables[grant.table].tableName;
  }
  if (spec.manageConnections) {
    environment[envVars.callbackUrl] = props.webSocket.callbackUrl;
  }
  if (spec.verifiesJwt) {
    environment[envVars.jwtIssuer] = props.jwt.issuer;
    environment[envVars.jwtAudience] = props.jwt.audience;
    environment[envVars.jwksUri] = props.jwt.jwksUri;
  }
  if (spec.bucket && spec.bucket.length > 0) {
    environment[envVars.mediaBucket] = props.media.bucket.bucketName;
  }
  if (spec.signsMediaUrls) {
    environment[envVars.mediaCdnUrl] = props.media.cdnUrl;
    environment[envVars.mediaKeyPairId] = props.media.keyPairId;
    environment[envVars.mediaSigningKeySecret] = props.media.signingKeySecret.secretArn;
  }
  if (spec.vapidPublicKey) {
    environment[envVars.vapidPublicKey] = props.push.vapidPublicKey;
  }
  if (spec.vapidPrivateKey) {
    environment[envVars.vapidPrivateKeySecret] = props.push.vapidPrivateKeySecret.secretArn;
  }
  return environment;
}

/** The finding id cdk-nag gives a wildcard resource: the ARN with its references flattened. */
export function wildcardResourceFinding(scope: Construct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}]`;
}
