import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import type { JwtSettings } from '#shared/auth/jwt';
import { envVars } from '#shared/config/env';
import { type FunctionName, type FunctionSpec, functionDefaults, functions } from '#shared/config/functions';
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

export interface HandlerDependencies {
  /** The tables built from `shared/config/tables`, by key: grants and table-name variables. */
  readonly tables: Readonly<Record<TableKey, ITable>>;
  /** For handlers whose spec sets `manageConnections`. */
  readonly webSocket: ConnectionsEndpoint;
  /** For handlers whose spec sets `verifiesJwt`. */
  readonly jwt: JwtSettings;
}

export interface ParleyFunctionProps extends HandlerDependencies {
  readonly spec: FunctionSpec;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
// ESM bundles have no `require`; CommonJS dependencies bundled inside still call it.
const esmRequireBanner =
  "import { createRequire as topLevelCreateRequire } from 'node:module'; const require = topLevelCreateRequire(import.meta.url);";

/**
 * One handler from the catalog as a bundled Node.js 22 arm64 function, with its own role holding
 * exactly the table actions its spec lists, and its own log group.
 */
export class ParleyFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: ParleyFunctionProps) {
    super(scope, id);
    const { spec } = props;
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
    });
    // An own role rather than the default one: no AWSLambdaBasicExecutionRole, logs only to this group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Parley ${id}`,
    });
    logGroup.grantWrite(role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${repositoryRoot}${spec.entry}`,
      handler: 'handler',
      description: spec.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb ?? functionDefaults.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds ?? functionDefaults.timeoutSeconds),
      role,
      logGroup,
      projectRoot: repositoryRoot,
      depsLockFilePath: `${repositoryRoot}package-lock.json`,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'parley',
        ...environmentFor(spec, props),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        banner: esmRequireBanner,
        // Bundle the AWS SDK v3 too: a pinned, tree-shaken copy instead of the runtime's.
        externalModules: [],
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the chosen runtime and the esbuild target is node22; a newer runtime is adopted by moving both together, not by each CDK release.',
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
  return environment;
}

/** The finding id cdk-nag gives a wildcard resource: the ARN with its references flattened. */
function wildcardResourceFinding(scope: Construct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}]`;
}
