/** Direct delivery on (the default): the send reaches online devices itself; fan-out only parks for the offline one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverOneMessage } from '../support/delivery-scenario';
import { startTestStack, type TestStack } from '../support/local-stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('e2e-direct');
});

afterAll(async () => {
  await stack?.stop();
});

describe('direct delivery', () => {
  it("reaches the recipient's and the sender's other online devices once, records them, and parks for the offline one", async () => {
    const { seen, recordedDevices, flagged, alice, bob } = await deliverOneMessage(stack);

    expect(seen).toEqual({ bobLaptop: 1, aliceLaptop: 1, alicePhone: 0, bobTabletAfterSync: 1 });
    expect(flagged).toBe(true);
    expect(recordedDevices).toEqual([`${alice.userId}#laptop`, `${bob.userId}#laptop`].sort());
  });
});
