import { beforeAll, describe, expect, it } from 'vitest';
import { ConversationService } from '#shared/services/conversation-service';
import { type ClientSend, type ComposeEntry, TimelineWriter } from '#shared/services/timeline-writer';
import { fixedClock, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;

beforeAll(async () => {
  db = await useTestTables('review-timeline');
});

const names = uniqueNames('t');

const timeline = (conversationId: string, upTo: number) => db.timeline(conversationId, 1, upTo);

describe('the creation event', () => {
  it('is seq 1 even when a member sends while the creation is being recorded', async () => {
    const [ann, ben] = names('ann', 'ben');
    let releaseCreated: () => void = () => undefined;
    const createdMayCommit = new Promise<void>((resolve) => {
      releaseCreated = resolve;
    });
    let createdPending: () => void = () => undefined;
    const createdIsPending = new Promise<void>((resolve) => {
      createdPending = resolve;
    });
    // The creating Lambda is slow between its two writes (the conversation and its `created` event).
    class SlowCreation extends TimelineWriter {
      override async append(conversationId: string, lastSeq: number, compose: ComposeEntry, send?: ClientSend) {
        if (compose(1, '').message.event?.kind === 'created') {
          createdPending();
          await createdMayCommit;
        }
        return super.append(conversationId, lastSeq, compose, send);
      }
    }
    const slow = new ConversationService(
      db.repositories.conversations,
      new SlowCreation(db.repositories.messages, fixedClock),
      fixedClock,
    );

    const creating = slow.create({ creatorId: ann, type: 'direct', memberIds: [ben] });
    // Either the creation pauses between two writes (the window this test probes) or it has none.
    await Promise.race([createdIsPending, creating]);
    // ben opens the same direct conversation (answered the existing one) and sends at once.
    const { conversation: existing } = await db.services.conversations.create({
      creatorId: ben,
      type: 'direct',
      memberIds: [ann],
    });
    await db.services.messaging.send({
      senderId: ben,
      conversationId: existing.id,
      clientMessageId: 'hi',
      text: 'hi',
    });
    releaseCreated();
    const { conversation } = await creating;

    const [first] = await timeline(conversation.id, 1);
    // docs/protocol.md: "The creation is the conversation's first timeline event (seq 1)."
    expect(first).toMatchObject({ seq: 1, type: 'system', event: { kind: 'created' } });
  });
});
