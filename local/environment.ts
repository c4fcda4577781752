import type { JwtSettings } from '#shared/auth/jwt';
import { envVars } from '#shared/config/env';
import { serviceName } from '#shared/config/monitoring';
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
  readonly media: MediaEnvironmentSettings;
  readonly push: PushEnvironmentSettings;
  /** False turns the send's direct delivery off (`--no-fast-path`): every message goes through the stream. */
  readonly directDelivery?: boolean;
  /** Replaces `limits.directDelivery.postTimeoutMs` (tests on loaded machines). */
  readonly directPostTimeoutMs?: number;
}

/** Where the media handlers find the bucket, the CDN and the signing key: the local stand-ins. */
export interface MediaEnvironmentSettings {
  /** The S3 stand-in (verifying proxy in front of s3rver). */
  readonly s3Endpoint: string;
  readonly secretsManagerEndpoint: string;
  readonly bucket: string;
  /** The CDN stand-in's base URL. */
  readonly cdnUrl: string;
  readonly keyPairId: string;
  /** Name of the secret holding the CloudFront private key (PEM). */
  readonly signingKeySecret: string;
}

/** Web Push: the Lambda Invoke stand-in, the VAPID key pair's public half and secret, the push-service stand-in. */
export interface PushEnvironmentSettings {
  readonly lambdaEndpoint: string;
  readonly vapidPublicKey: string;
  readonly vapidPrivateKeySecret: string;
  readonly pushSendFunction: string;
  /** The push-service stand-in's origin, accepted besides the known push services (never set on AWS). */
  readonly localPushOrigin: string;
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
    AWS_ENDPOINT_URL_S3: settings.media.s3Endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: settings.media.secretsManagerEndpoint,
    AWS_ENDPOINT_URL_LAMBDA: settings.push.lambdaEndpoint,
    [envVars.vapidPublicKey]: settings.push.vapidPublicKey,
    [envVars.vapidPrivateKeySecret]: settings.push.vapidPrivateKeySecret,
    [envVars.pushSendFunction]: settings.push.pushSendFunction,
    [envVars.localPushOrigin]: settings.push.localPushOrigin,
    [envVars.callbackUrl]: settings.callbackUrl,
    [envVars.jwtIssuer]: settings.jwt.issuer,
    [envVars.jwtAudience]: settings.jwt.audience,
    [envVars.jwksUri]: settings.jwt.jwksUri,
    [envVars.mediaBucket]: settings.media.bucket,
    [envVars.mediaCdnUrl]: settings.media.cdnUrl.replace(/\/+$/, ''),
    [envVars.mediaKeyPairId]: settings.media.keyPairId,
    [envVars.mediaSigningKeySecret]: settings.media.signingKeySecret,
    ...(settings.directDelivery === false ? { [envVars.directDeliveryMaxMembers]: '0' } : {}),
    ...(settings.directPostTimeoutMs === undefined
      ? {}
      : { [envVars.directPostTimeoutMs]: String(settings.directPostTimeoutMs) }),
    POWERTOOLS_SERVICE_NAME: serviceName,
    POWERTOOLS_LOG_LEVEL: settings.logLevel,
    POWERTOOLS_METRICS_DISABLED: String(!settings.metricsEnabled),
    // No X-Ray daemon here: the tracer stays off and quiet, its SDK client wrappers pass calls straight through.
    POWERTOOLS_TRACE_ENABLED: 'false',
    // With tracing off the X-Ray SDK needs no async context; automatic mode would install cls-hooked's
    // destroy-tracking async hook on every promise of this one process that hosts every handler.
    AWS_XRAY_MANUAL_MODE: 'true',
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
