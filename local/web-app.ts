/**
 * The web app (web/) on the local stack: built once with Vite at start into a temporary directory,
 * then served as static files, with `/config.json` made from the stack's own URLs (local sign-in).
 * A build rather than Vite's dev server: the dev client's HMR socket reloads the page whenever the
 * network comes back, which would wipe the chat's offline state (and its unsent messages).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel as ViteLogLevel } from 'vite';
import { type WebConfig, webConfigPath } from '#shared/config/web';
import { sendJson } from './http-helpers';
import type { LocalLogger, LogLevel } from './log';
import { closeServer, listenOnLoopback } from './ports';

export const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');

export interface WebAppOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly logger: LocalLogger;
  readonly logLevel: LogLevel;
}

export interface WebApp {
  readonly url: string;
  readonly config: WebConfig;
  stop(): Promise<void>;
}

const viteLogLevels: Readonly<Record<LogLevel, ViteLogLevel>> = {
  DEBUG: 'info',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  SILENT: 'silent',
};

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Browser hardening for the app's own pages: no framing, no sniffing, no referrer leaks to linked sites. */
const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

export async function startWebApp(options: WebAppOptions): Promise<WebApp> {
  const outDir = await mkdtemp(join(tmpdir(), 'parley-web-'));
  try {
    // Imported here so stacks without the web app (most tests) never load Vite.
    const { build } = await import('vite');
    await build({
      configFile: join(webRoot, 'vite.config.ts'),
      root: webRoot,
      logLevel: viteLogLevels[options.logLevel],
      clearScreen: false,
      build: { outDir, emptyOutDir: true },
    });
  } catch (error) {
    await rm(outDir, { recursive: true, force: true });
    throw error;
  }

  const config: WebConfig = { httpUrl: options.httpUrl, wsUrl: options.wsUrl, auth: { kind: 'local' } };
  const server = createServer((request, response) => {
    serve(request, response, outDir, config).catch((error: unknown) => {
      options.logger.error('web app request failed', { url: request.url, error });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  let url: string;
  try {
    url = await listenOnLoopback(server, options.port);
  } catch (error) {
    await rm(outDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    config,
    async stop() {
      await closeServer(server);
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

async function serve(request: IncomingMessage, response: ServerResponse, outDir: string, config: WebConfig) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' });
    response.end();
    return;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(request.url ?? '/', 'http://local').pathname);
  } catch {
    response.writeHead(400);
    response.end();
    return;
  }
  if (path === webConfigPath) {
    sendJson(response, 200, config, { 'cache-control': 'no-store', ...securityHeaders });
    return;
  }
  const file = normalize(join(outDir, path));
  const inside = file.startsWith(`${outDir}${sep}`);
  const found = inside ? await stat(file).catch(() => undefined) : undefined;
  if (found?.isFile() !== true && path.startsWith('/assets/')) {
    response.writeHead(404, securityHeaders);
    response.end();
    return;
  }
  // Any other path is a route of the single-page app (/callback included): it gets index.html.
  const target = found?.isFile() === true ? file : join(outDir, 'index.html');
  const hashed = target !== join(outDir, 'index.html') && path.startsWith('/assets/');
  response.writeHead(200, {
    'content-type': contentTypes[extname(target)] ?? 'application/octet-stream',
    // Built assets carry a content hash in their name; index.html must always be fetched again.
    'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...securityHeaders,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(target).pipe(response);
}
