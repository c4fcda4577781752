import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  LogGroupLogDestination,
  type ThrottleSettings,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { webSocketAuthorizer, webSocketRouteSelection, webSocketRoutes } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import type { ConnectionsEndpoint, Handlers } from './lambda-function';

export interface RealtimeApiProps {
  /**
   * Default limits for every route of the stage.
   * @default `limits.stageThrottling.webSocket` (1,000 requests/s, burst 2,000): headroom under the
   * 10,000 RPS account throttle that the HTTP API and every postToConnection share
   */
  readonly throttle?: ThrottleSettings;
  /**
   * Point API Gateway's account-level CloudWatch Logs role (one per account and Region) at a role
   * created here; WebSocket access logs cannot be written without it. Turn off where the account
   * already has one.
   * @default true
   */
  readonly configureAccountLogging?: boolean;
}

const stageName = 'prod';

/**
 * The WebSocket API clients stay connected to: routes by `action`, a REQUEST authorizer on
 * `$connect`, and a `prod` stage with throttling and access logs.
 *
 * Routes are added by `addRoutes` once the handlers exist, because the handlers in turn need
 * this API's callback URL.
 */
export class RealtimeApi extends Construct implements ConnectionsEndpoint {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly connectionsArn: string;

  constructor(scope: Construct, id: string, props: RealtimeApiProps = {}) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', {
      apiName: 'parley-realtime',
      description: 'Parley real-time chat',
      routeSelectionExpression: webSocketRouteSelection,
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      throttle: props.throttle ?? { ...limits.stageThrottling.webSocket },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            sourceIp: '$context.identity.sourceIp',
            connectionId: '$context.connectionId',
            eventType: '$context.eventType',
            routeKey: '$context.routeKey',
            status: '$context.status',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integration.error',
          }),
        ),
      },
    });
    if (props.configureAccountLogging ?? true) {
      this.stage.node.addDependency(this.createAccountLoggingRole());
    }

    this.connectionsArn = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${stageName}/*/@connections/*`,
    });
  }

  /** `wss://` URL clients connect to. */
  get url(): string {
    return this.stage.url;
  }

  get callbackUrl(): string {
    return this.stage.callbackUrl;
  }

  /**
   * Adds the `$connect` authorizer and one route per entry of `webSocketRoutes`. The authorizer's
   * identity source is `deviceId` only (a ticket or a token is the credential, either one), and
   * WebSocket authorizers have no result cache: every handshake runs it.
   */
  addRoutes(handlers: Handlers): void {
    const authorizer = new WebSocketLambdaAuthorizer('ConnectAuthorizer', handlers[webSocketAuthorizer.function], {
      identitySource: [...webSocketAuthorizer.identitySource],
    });
    // One integration per function: routes served by the same Lambda (sendMessage, sendMessages) share it.
    const integrations = new Map<string, WebSocketLambdaIntegration>();
    for (const route of webSocketRoutes) {
      const isConnect = route.routeKey === '$connect';
      const integration =
        integrations.get(route.function) ??
        new WebSocketLambdaIntegration(`${route.routeKey}Integration`, handlers[route.function]);
      integrations.set(route.function, integration);
      const webSocketRoute = this.api.addRoute(route.routeKey, {
        integration,
        returnResponse: route.returnResponse,
        authorizer: isConnect ? authorizer : undefined,
      });
      if (!isConnect) {
        Validations.of(webSocketRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'API Gateway authorizes a WebSocket connection once, on $connect (authorizers attach to no other route); this route only serves frames on a connection that passed it.',
        });
      }
    }
  }

  private createAccountLoggingRole(): CfnAccount {
    const role = new Role(this, 'ApiGatewayLoggingRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The AWS-maintained policy API Gateway documents for its account-level logging role; it must reach log groups of every API in the account and Region.',
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    // The setting is account-wide: other APIs keep logging after this stack is deleted.
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return account;
  }
}
