import { createServer } from 'node:net';

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
