import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectionPoster } from '#shared/aws/connection-poster';

const managementApi = mockClient(ApiGatewayManagementApiClient);
afterEach(() => managementApi.reset());

describe('createConnectionPoster', () => {
  it('posts the frame as JSON to the named connection', async () => {
    managementApi.on(PostToConnectionCommand).resolves({});
    const poster = createConnectionPoster('https://example.execute-api.us-east-1.amazonaws.com/prod');

    const outcome = await poster.post('abc=', { type: 'pong' });

    expect(outcome).toBe('sent');
    const call = managementApi.commandCalls(PostToConnectionCommand)[0];
    expect(call?.args[0].input.ConnectionId).toBe('abc=');
    expect(new TextDecoder().decode(call?.args[0].input.Data as Uint8Array)).toBe('{"type":"pong"}');
  });

  it('answers gone for a 410 GoneException', async () => {
    managementApi
      .on(PostToConnectionCommand)
      .rejects(new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } }));
    const poster = createConnectionPoster('https://example.execute-api.us-east-1.amazonaws.com/prod');

    await expect(poster.post('abc=', { type: 'pong' })).resolves.toBe('gone');
  });

  it('throws any other failure so the stream retries the record', async () => {
    managementApi.on(PostToConnectionCommand).rejects(new Error('500 from API Gateway'));
    const poster = createConnectionPoster('https://example.execute-api.us-east-1.amazonaws.com/prod');

    await expect(poster.post('abc=', { type: 'pong' })).rejects.toThrow('500 from API Gateway');
  });
});
