import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { envVars } from '#shared/config/env';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import { createBundledFunction, type Handlers, type PushEndpoint, wildcardResourceFinding } from './lambda-function';

export const vapidKeyResourceType = 'Custom::ParleyVapidKey';

/**
 * Web Push: the VAPID key pair, made at deploy time (a custom resource writes the private key into a
 * secret and hands back the public key, as for the media signing key), and, once the handlers exist,
 * the asynchronous invocation of the push sender: bounded retries, then an on-failure queue.
 */
export class Push extends Construct implements PushEndpoint {
  readonly vapidPublicKey: string;
  readonly vapidPrivateKeySecret: Secret;
  /** Pushes that failed every retry (push service down or throttling for long): kept for an operator. */
  readonly failedPushes: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vapidPrivateKeySecret = new Secret(this, 'VapidPrivateKey', {
      description: 'Parley: VAPID private key (P-256, base64url) that signs Web Pushes; written at deploy time',
      // Every browser subscription is bound to the public half: it is worth nothing without the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.vapidPrivateKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Every browser push subscription is bound to the VAPID public key; a new pair voids them all, so it comes with a new custom resource (and clients subscribing again), not with a rotation schedule.',
    });

    const generator = new Construct(this, 'Generator');
    const { function: onEvent, role } = createBundledFunction(generator, {
      entry: 'infra/handlers/vapid-key.ts',
      description: 'Deploy time: creates the VAPID key pair, keeps the private key in its secret',
      memoryMb: 256,
      timeoutSeconds: 60,
      roleDescription: 'Parley VAPID key: generates the pair, writes the private key',
    });
    Grant.addToPrincipal({
      grantee: role,
      actions: ['secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
      resourceArns: [this.vapidPrivateKeySecret.secretArn],
    });
    const frameworkLogs = new LogGroup(this, 'ProviderLogs', { retention: RetentionDays.ONE_MONTH });
    const frameworkRole = new Role(this, 'ProviderRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Parley VAPID key: custom resource provider',
    });
    frameworkLogs.grantWrite(frameworkRole);
    const provider = new Provider(this, 'Provider', {
      onEventHandler: onEvent,
      frameworkOnEventRole: frameworkRole,
      logGroup: frameworkLogs,
    });
    Validations.of(frameworkRole).acknowledge({
      id: wildcardResourceFinding(this, `${onEvent.functionArn}:*`),
      reason:
        'The custom resource provider may invoke any version of its own onEvent function; the wildcard is the version qualifier of that one function.',
    });
    const keyPair = new CustomResource(this, 'KeyPair', {
      serviceToken: provider.serviceToken,
      resourceType: vapidKeyResourceType,
      properties: { SecretArn: this.vapidPrivateKeySecret.secretArn },
    });
    this.vapidPublicKey = keyPair.getAttString('PublicKey');

    this.failedPushes = new Queue(this, 'FailedPushes', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedPushes).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the on-failure destination of the push sender; it holds pushes that failed every retry for an operator to inspect.',
    });
  }

  /**
   * Configures each asynchronously invoked handler's retries and on-failure queue, and lets every
   * handler whose spec says `invokesPushSend` invoke the push sender (that function only).
   */
  connect(handlers: Handlers): void {
    for (const name of Object.keys(functions) as FunctionName[]) {
      const spec: FunctionSpec = functions[name];
      const handler = handlers[name];
      if (spec.asyncInvocation) {
        handler.configureAsyncInvoke({
          retryAttempts: spec.asyncInvocation.retryAttempts,
          maxEventAge: Duration.seconds(spec.asyncInvocation.maxEventAgeSeconds),
          onFailure: new SqsDestination(this.failedPushes),
        });
      }
      if (spec.invokesPushSend) {
        const sender = handlers.pushSend;
        if (!(handler instanceof LambdaFunction)) throw new Error(`${name} must be a function built here`);
        // The name, not the ARN: the Invoke API takes either, and the name keeps the variable short.
        handler.addEnvironment(envVars.pushSendFunction, sender.functionName);
        Grant.addToPrincipal({
          grantee: handler,
          actions: ['lambda:InvokeFunction'],
          resourceArns: [sender.functionArn],
        });
      }
    }
  }
}
