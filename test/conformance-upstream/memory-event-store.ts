import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/** Keeps every SSE event of a legacy session so a client may resume a stream the server closed early. */
export class MemoryEventStore implements EventStore {
  private readonly events: { id: EventId; stream: StreamId; message: JSONRPCMessage }[] = [];
  private next = 0;

  /** Stores one event and returns its id. */
  async storeEvent(stream: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${stream}_${++this.next}`;
    this.events.push({ id, stream, message });
    return id;
  }

  /** The stream an event id belongs to, so a resumed GET lands on the right request. */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.find((e) => e.id === eventId)?.stream;
  }

  /** Re-sends the events of that stream after `lastEventId`. */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const index = this.events.findIndex((e) => e.id === lastEventId);
    const stream = this.events[index]?.stream;
    if (stream === undefined) throw new Error(`unknown event id ${lastEventId}`);
    for (const event of this.events.slice(index + 1)) {
      if (event.stream === stream) await send(event.id, event.message);
    }
    return stream;
  }
}
