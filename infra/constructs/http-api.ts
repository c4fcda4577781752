import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { JwtSettings } from '#shared/auth/jwt';
import { httpCors, httpRoutes } from '#shared/config/functions';
import { limits } from '#shared/config/limits';
import type { Handlers } from './lambda-function';

export interface HttpApiProps {
  readonly handlers: Handlers;
  /** Tokens are checked against this issuer and audience by API Gateway itself. */
  readonly jwt: JwtSettings;
  /**
   * Default limits for every route.
   * @default `limits.stageThrottling.http` (200 requests/s, burst 400)
   */
  readonly throttle?: ThrottleSettings;
}

/** The HTTP API for request/response calls: one route per `httpRoutes` entry, all behind the JWT authorizer. */
export class ParleyHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      apiName: 'parley-http',
      description: 'Parley conversations API',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [...httpCors.allowOrigins],
        allowHeaders: [...httpCors.allowHeaders],
        allowMethods: [...new Set(httpRoutes.map((route) => CorsHttpMethod[route.method]))],
        maxAge: Duration.seconds(httpCors.maxAgeSeconds),
      },
      defaultAuthorizer: new HttpJwtAuthorizer('CognitoJwt', props.jwt.issuer, {
        jwtAudience: [props.jwt.audience],
      }),
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { ...limits.stageThrottling.http },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            sourceIp: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    for (const route of httpRoutes) {
      this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(
          `${route.method}${route.path.replaceAll('/', '-')}`,
          props.handlers[route.function],
        ),
      });
    }
  }

  get url(): string {
    return this.stage.url;
  }
}
