import { createServer, type Server } from 'node:net';

export const loopbackHost = '127.0.0.1';

/** Asks the OS for a free loopback port (for programs such as Java that cannot report theirs). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, loopbackHost, () => {
      const address = probe.address();
      probe.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('No TCP port was assigned'));
        else resolve(address.port);
      });
    });
  });
}

/** Listens on the loopback interface (0: any free port) and resolves with the server's base URL. */
export function listenOnLoopback(server: Server, port: number, scheme = 'http'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, loopbackHost, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('Server has no TCP address'));
      else resolve(`${scheme}://${loopbackHost}:${address.port}`);
    });
  });
}

/** Closes a server and every socket still open on it (keep-alive clients would hold it open). */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
