/** Direct delivery off (`npm start -- --no-fast-path`): the stream's fan-out delivers everything, as before. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverOneMessage } from '../support/delivery-scenario';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('e2e-stream-only', { directDelivery: false });
});

afterAll(async () => {
  await stack?.stop();
});

describe('stream-only delivery', () => {
  it('delivers to every online device once and parks for the offline one, with no direct record', async () => {
    const { seen, recordedDevices, flagged } = await deliverOneMessage(stack);

    expect(seen).toEqual({ bobLaptop: 1, aliceLaptop: 1, alicePhone: 0, bobTabletAfterSync: 1 });
    expect(flagged).toBe(false);
    expect(recordedDevices).toBeUndefined();
  });
});
