/**
 * The web app's runtime configuration, served as `/config.json` beside the app: written at deploy
 * time by CDK (API URLs, Cognito hosted login) and served by the local stack (local token login).
 * One build of the app runs anywhere; only this file differs.
 */
export const webConfigPath = '/config.json';

/** Where Cognito's hosted login sends the browser back with the authorization code. */
export const webAuthCallbackPath = '/callback';

export type WebAuthConfig =
  /** `npm start`: sign in by username through the local token endpoint (`POST {httpUrl}/local/token`). */
  | { readonly kind: 'local' }
  /** AWS: Cognito hosted login, authorization code flow with PKCE; the ID token is the API bearer token. */
  | {
      readonly kind: 'cognito';
      /** `https://{prefix}.auth.{region}.amazoncognito.com` */
      readonly domain: string;
      readonly clientId: string;
      readonly scopes: readonly string[];
    };

export interface WebConfig {
  /** The HTTP API base URL, no trailing slash. */
  readonly httpUrl: string;
  /** The WebSocket API URL (`wss://…/prod` on AWS). */
  readonly wsUrl: string;
  readonly auth: WebAuthConfig;
}
