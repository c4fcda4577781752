import { Duration, Validations } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { envVars } from '#shared/config/env';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import { generatedKeyPair } from './generated-key-pair';
import type { Handlers, PushEndpoint } from './lambda-function';

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
    const keyPair = generatedKeyPair(this, {
      secretId: 'VapidPrivateKey',
      secretDescription: 'Parley: VAPID private key (P-256, base64url) that signs Web Pushes; written at deploy time',
      noRotationReason:
        'Every browser push subscription is bound to the VAPID public key; a new pair voids them all, so it comes with a new custom resource (and clients subscribing again), not with a rotation schedule.',
      generatorEntry: 'infra/handlers/vapid-key.ts',
      generatorDescription: 'Deploy time: creates the VAPID key pair, keeps the private key in its secret',
      generatorMemoryMb: 256,
      roleLabel: 'Parley VAPID key',
      resourceType: vapidKeyResourceType,
    });
    this.vapidPrivateKeySecret = keyPair.secret;
    this.vapidPublicKey = keyPair.publicKey;

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
