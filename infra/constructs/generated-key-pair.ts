import { CustomResource, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { createBundledFunction, wildcardResourceFinding } from './lambda-function';

export interface GeneratedKeyPairOptions {
  /** Construct id of the secret within the scope (kept as first deployed, so its logical id holds). */
  readonly secretId: string;
  readonly secretDescription: string;
  /** Why the secret has no rotation schedule (cdk-nag AwsSolutions-SMG4). */
  readonly noRotationReason: string;
  /** The custom resource's onEvent handler (infra/handlers), which generates the pair. */
  readonly generatorEntry: string;
  readonly generatorDescription: string;
  readonly generatorMemoryMb: number;
  /** What the generator's and the provider's roles are described as, e.g. "Parley VAPID key". */
  readonly roleLabel: string;
  readonly resourceType: string;
}

export interface GeneratedKeyPair {
  /** The private key, written at deploy time. */
  readonly secret: Secret;
  /** The public half, as the generator returns it (a deploy-time token). */
  readonly publicKey: string;
}

/**
 * A key pair made at deploy time with no manual step: a custom resource generates it, keeps the
 * private key in a secret and hands back the public key. Its parts are made in `scope` itself, so
 * the logical ids of a stack deployed before this function existed stay as they were.
 */
export function generatedKeyPair(scope: Construct, options: GeneratedKeyPairOptions): GeneratedKeyPair {
  const secret = new Secret(scope, options.secretId, {
    description: options.secretDescription,
    // The private key is worth nothing without the stack's public half, which goes with the stack.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: options.noRotationReason });

  const generator = new Construct(scope, 'Generator');
  const { function: onEvent, role } = createBundledFunction(generator, {
    entry: options.generatorEntry,
    description: options.generatorDescription,
    memoryMb: options.generatorMemoryMb,
    timeoutSeconds: 60,
    roleDescription: `${options.roleLabel}: generates the pair, writes the private key`,
  });
  // Get: an update returns the public key derived again from the stored private key.
  Grant.addToPrincipal({
    grantee: role,
    actions: ['secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
    resourceArns: [secret.secretArn],
  });

  const frameworkLogs = new LogGroup(scope, 'ProviderLogs', { retention: RetentionDays.ONE_MONTH });
  // An own role rather than the default one: no AWSLambdaBasicExecutionRole, logs only to this group.
  const frameworkRole = new Role(scope, 'ProviderRole', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `${options.roleLabel}: custom resource provider`,
  });
  frameworkLogs.grantWrite(frameworkRole);
  const provider = new Provider(scope, 'Provider', {
    onEventHandler: onEvent,
    frameworkOnEventRole: frameworkRole,
    logGroup: frameworkLogs,
  });
  Validations.of(frameworkRole).acknowledge({
    id: wildcardResourceFinding(scope, `${onEvent.functionArn}:*`),
    reason:
      'The custom resource provider may invoke any version of its own onEvent function; the wildcard is the version qualifier of that one function.',
  });

  const keyPair = new CustomResource(scope, 'KeyPair', {
    serviceToken: provider.serviceToken,
    resourceType: options.resourceType,
    properties: { SecretArn: secret.secretArn },
  });
  return { secret, publicKey: keyPair.getAttString('PublicKey') };
}
