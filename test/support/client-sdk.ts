import WebSocket from 'ws';
import { MemoryStore, ParleyClient, type ParleyClientOptions } from '../../client/index';

/**
 * The SDK as a test device on the local stack: its own in-memory storage, Node's `ws`, and short
 * backoffs so a reconnect in a test takes milliseconds, not the SDK's default seconds.
 */
export function localSdkClient(
  stack: { readonly httpUrl: string; readonly wsUrl: string },
  options: Pick<ParleyClientOptions, 'tokenProvider' | 'deviceId'> & Partial<ParleyClientOptions>,
): ParleyClient {
  return new ParleyClient({
    httpUrl: stack.httpUrl,
    wsUrl: stack.wsUrl,
    storage: new MemoryStore(),
    WebSocket,
    backoff: { initialMs: 50, maxMs: 1000 },
    ...options,
  });
}
