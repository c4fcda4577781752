import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Auth } from './constructs/auth';
import { Data } from './constructs/data';
import { FanOut } from './constructs/fan-out';
import { ParleyHttpApi } from './constructs/http-api';
import { createHandlers } from './constructs/lambda-function';
import { Media } from './constructs/media';
import { Monitoring } from './constructs/monitoring';
import { Push } from './constructs/push';
import { RealtimeApi } from './constructs/realtime-api';
import { WebApp } from './constructs/web-app';

export interface ParleyStackProps extends StackProps {
  /**
   * What happens to the tables, the user pool, the media buckets and the web app's bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly statefulRemovalPolicy?: RemovalPolicy;
  /**
   * Also mail every alarm and recovery to this address.
   * @default no subscription on the alarm topic
   */
  readonly alarmEmail?: string;
}

/**
 * Parley on AWS: user pool and hosted login, tables, media store and CDN, handlers, the WebSocket
 * and HTTP APIs, the stream fan-out, the web app behind CloudFront, and alarms with a dashboard.
 */
export class ParleyStack extends Stack {
  constructor(scope: Construct, id: string, props: ParleyStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.statefulRemovalPolicy ?? RemovalPolicy.RETAIN;

    const media = new Media(this, 'Media', { removalPolicy });
    // The site first: Cognito's redirect URIs name its domain, and its config.json names the client after.
    const web = new WebApp(this, 'Web', { accessLogsBucket: media.logsBucket, removalPolicy });
    const auth = new Auth(this, 'Auth', { removalPolicy, webAppUrls: [web.url] });
    const data = new Data(this, 'Data', { removalPolicy });
    const realtime = new RealtimeApi(this, 'Realtime');
    const push = new Push(this, 'Push');
    const handlers = createHandlers(this, { tables: data.tables, webSocket: realtime, jwt: auth.jwt, media, push });
    push.connect(handlers);
    realtime.addRoutes(handlers);
    media.addTriggers(handlers);
    const http = new ParleyHttpApi(this, 'Http', { handlers, jwt: auth.jwt });
    const fanOut = new FanOut(this, 'FanOut', { handlers, tables: data.tables });
    const monitoring = new Monitoring(this, 'Monitoring', {
      handlers,
      tables: data.tables,
      streamTriggers: fanOut.triggers,
      httpApi: http.api,
      webSocket: { apiId: realtime.api.apiId, stageName: realtime.stage.stageName },
      ...(props.alarmEmail === undefined ? {} : { alarmEmail: props.alarmEmail }),
    });
    web.publish({
      // The $default stage is served at the API endpoint itself, which has no trailing slash.
      httpUrl: http.api.apiEndpoint,
      wsUrl: realtime.url,
      auth: {
        kind: 'cognito',
        domain: auth.domainUrl,
        clientId: auth.userPoolClient.userPoolClientId,
        scopes: auth.oauthScopes,
      },
    });

    new CfnOutput(this, 'WebSocketUrl', { value: realtime.url });
    new CfnOutput(this, 'WebSocketCallbackUrl', { value: realtime.callbackUrl });
    new CfnOutput(this, 'HttpApiUrl', { value: http.url });
    new CfnOutput(this, 'UserPoolId', { value: auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: auth.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'MediaBucketName', { value: media.bucket.bucketName });
    new CfnOutput(this, 'MediaCdnUrl', { value: media.cdnUrl });
    new CfnOutput(this, 'WebAppUrl', { value: web.url });
    new CfnOutput(this, 'CognitoDomain', { value: auth.domainUrl });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.topic.topicArn });
    new CfnOutput(this, 'FailedPushesQueueUrl', { value: push.failedPushes.queueUrl });
  }
}
