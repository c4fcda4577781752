import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Auth } from './constructs/auth';
import { Data } from './constructs/data';
import { FanOut } from './constructs/fan-out';
import { ParleyHttpApi } from './constructs/http-api';
import { createHandlers } from './constructs/lambda-function';
import { Media } from './constructs/media';
import { RealtimeApi } from './constructs/realtime-api';

export interface ParleyStackProps extends StackProps {
  /**
   * What happens to the tables, the user pool and the media buckets when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly statefulRemovalPolicy?: RemovalPolicy;
}

/** Parley's backend: user pool, tables, media store and CDN, handlers, the WebSocket and HTTP APIs, and the stream fan-out. */
export class ParleyStack extends Stack {
  constructor(scope: Construct, id: string, props: ParleyStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.statefulRemovalPolicy ?? RemovalPolicy.RETAIN;

    const auth = new Auth(this, 'Auth', { removalPolicy });
    const data = new Data(this, 'Data', { removalPolicy });
    const media = new Media(this, 'Media', { removalPolicy });
    const realtime = new RealtimeApi(this, 'Realtime');
    const handlers = createHandlers(this, { tables: data.tables, webSocket: realtime, jwt: auth.jwt, media });
    realtime.addRoutes(handlers);
    media.addTriggers(handlers);
    const http = new ParleyHttpApi(this, 'Http', { handlers, jwt: auth.jwt });
    new FanOut(this, 'FanOut', { handlers, tables: data.tables });

    new CfnOutput(this, 'WebSocketUrl', { value: realtime.url });
    new CfnOutput(this, 'WebSocketCallbackUrl', { value: realtime.callbackUrl });
    new CfnOutput(this, 'HttpApiUrl', { value: http.url });
    new CfnOutput(this, 'UserPoolId', { value: auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: auth.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'MediaBucketName', { value: media.bucket.bucketName });
    new CfnOutput(this, 'MediaCdnUrl', { value: media.cdnUrl });
  }
}
