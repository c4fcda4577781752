import type { JwtSettings } from '#shared/auth/jwt';
import { envVars } from '#shared/config/env';
import { tableKeys } from '#shared/config/tables';
import { localCredentials, localRegion } from './aws-local';
import { anyHandlerModuleImported } from './lambda-runtime';
import type { LogLevel } from './log';
import type { LocalTables } from './tables';

export interface HandlerEnvironmentSettings {
  readonly tables: LocalTables;
  /** Where the handlers' ApiGatewayManagementApiClient points: the local WebSocket server. */
  readonly callbackUrl: string;
  readonly jwt: JwtSettings;
  readonly dynamoEndpoint: string;
  readonly logLevel: LogLevel;
  readonly metricsEnabled: boolean;
}

/** What Lambda's configuration would give every function, pointed at the local stand-ins. */
export function handlerEnvironment(settings: HandlerEnvironmentSettings): Record<string, string> {
  const environment: Record<string, string> = {
    AWS_REGION: localRegion,
    AWS_DEFAULT_REGION: localRegion,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    // The SDK's service-specific endpoint variable: handlers keep a plain `new DynamoDBClient({})`.
    AWS_ENDPOINT_URL_DYNAMODB: settings.dynamoEndpoint,
    [envVars.callbackUrl]: settings.callbackUrl,
    [envVars.jwtIssuer]: settings.jwt.issuer,
    [envVars.jwtAudience]: settings.jwt.audience,
    [envVars.jwksUri]: settings.jwt.jwksUri,
    POWERTOOLS_SERVICE_NAME: 'parley',
    POWERTOOLS_LOG_LEVEL: settings.logLevel,
    POWERTOOLS_METRICS_DISABLED: String(!settings.metricsEnabled),
  };
  for (const key of tableKeys) {
    const table = settings.tables[key];
    environment[table.spec.envVar] = table.tableName;
  }
  return environment;
}

let appliedEnvironment: Readonly<Record<string, string>> | undefined;

/**
 * Sets the handlers' environment on this process. Must run before any handler module is imported:
 * handlers read their settings once, at cold start, and Node never imports a module twice.
 */
export function applyHandlerEnvironment(environment: Readonly<Record<string, string>>): void {
  const previous = appliedEnvironment;
  const changed =
    previous !== undefined && Object.entries(environment).some(([name, value]) => previous[name] !== value);
  if (changed && anyHandlerModuleImported()) {
    throw new Error(
      "Handler modules in this process already read another local stack's settings at import; " +
        'run one local stack per process (one per test file).',
    );
  }
  Object.assign(process.env, environment);
  // Dummy keys paired with a real session token from the shell would be neither real nor local.
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  appliedEnvironment = environment;
}
