/** The HTTP side: a bearer-token JSON caller and the typed route helpers built on it. */
import type { Message } from '#shared/model';
import { ParleyApiError } from './errors';
import type { HistoryQuery, ParleyApi } from './types';

type Query = Record<string, string | number | undefined>;

export interface HttpCallerOptions {
  readonly baseUrl: string;
  readonly token: () => Promise<string>;
  readonly fetch: typeof fetch;
}

/** Codes for the errors API Gateway answers itself, with a bare `{message}` body. */
const gatewayCodes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal',
  502: 'internal',
  503: 'internal',
  504: 'internal',
};

export class HttpCaller {
  private readonly baseUrl: string;

  constructor(private readonly options: HttpCallerOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** Answers the parsed JSON body, or undefined for an empty one (204). */
  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const token = await this.options.token();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.options.fetch(`${this.baseUrl}${path}${queryString(query)}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) throw apiError(response.status, parsed, text);
    // The route contract fixes the shape; the SDK trusts the server it talks to.
    return parsed as T;
  }
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function apiError(status: number, body: unknown, text: string): ParleyApiError {
  const fallbackCode = gatewayCodes[status] ?? `http_${status}`;
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message, details } = body.error;
    return new ParleyApiError(
      status,
      typeof code === 'string' ? code : fallbackCode,
      typeof message === 'string' ? message : `HTTP ${status}`,
      isRecord(details) ? details : undefined,
    );
  }
  if (isRecord(body) && typeof body.message === 'string') return new ParleyApiError(status, fallbackCode, body.message);
  return new ParleyApiError(status, fallbackCode, text.slice(0, 200) || `HTTP ${status}`);
}

const segment = encodeURIComponent;

/** The route helpers; `me` resolves the caller's user id (the token's `sub`). */
export function createApi(http: HttpCaller, me: () => Promise<string>): ParleyApi {
  return {
    createUser: (body) => http.request('POST', '/users', body),
    getUser: (id) => http.request('GET', `/users/${segment(id)}`),
    searchUsers: (prefix, options = {}) =>
      http.request('GET', '/users', undefined, { username: prefix, cursor: options.cursor }),
    updateUser: (id, body) => http.request('PUT', `/users/${segment(id)}`, body),
    deleteUser: (id) => http.request('DELETE', `/users/${segment(id)}`),
    createConversation: (body) => http.request('POST', '/conversations', body),
    getConversation: (id) => http.request('GET', `/conversations/${segment(id)}`),
    listConversations: async (options = {}) =>
      http.request('GET', `/users/${segment(await me())}/conversations`, undefined, {
        cursor: options.cursor,
        limit: options.limit,
      }),
    renameConversation: (id, name) => http.request('PATCH', `/conversations/${segment(id)}`, { name }),
    addMembers: (id, userIds) => http.request('POST', `/conversations/${segment(id)}/participants`, { userIds }),
    removeMember: (id, userId) =>
      http.request('DELETE', `/conversations/${segment(id)}/participants/${segment(userId)}`),
    history: (id, query: HistoryQuery = {}) =>
      http.request('GET', `/conversations/${segment(id)}/messages`, undefined, {
        after: query.after,
        before: query.before,
        cursor: query.cursor,
        limit: query.limit,
      }),
    getMessage: async (id) => (await http.request<{ message: Message }>('GET', `/messages/${segment(id)}`)).message,
    readReceipts: (messageId) => http.request('GET', `/messages/${segment(messageId)}/read_receipts`),
    presence: (userId) => http.request('GET', `/users/${segment(userId)}/presence`),
    markReadHttp: (messageId) => http.request('POST', `/messages/${segment(messageId)}/read_receipts`),
    getAttachment: (id) => http.request('GET', `/attachments/${segment(id)}`),
    vapidPublicKey: async () => (await http.request<{ publicKey: string }>('GET', '/push/vapid-public-key')).publicKey,
    registerPushSubscription: (deviceId, subscription) =>
      http.request('POST', `/devices/${segment(deviceId)}/push-subscription`, subscription),
    deletePushSubscription: (deviceId) => http.request('DELETE', `/devices/${segment(deviceId)}/push-subscription`),
  };
}
