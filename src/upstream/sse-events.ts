// Server-sent events as an upstream's answer to one POST carries them (text/event-stream): the few fields
// MCP uses, read incrementally from the response body, each event bounded so a hostile stream that never
// ends an event cannot grow memory without limit.

/** One dispatched event: its type (`message` unless named), its data lines joined, its id if it set one. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** What the reader learned besides events, for resuming the stream. */
export interface SseState {
  /** The last event id the stream set; a resumed stream starts after it. */
  lastEventId: string | undefined;
  /** The reconnection delay the stream asked for (`retry:`), in ms. */
  retryMs: number | undefined;
}

/**
 * Yields the events of `body` as they complete. Throws when one event (or one line) grows past
 * `maxEventChars` characters before it ends.
 */
export async function* readSseEvents(
  body: AsyncIterable<Buffer | string>,
  state: SseState,
  maxEventChars: number,
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  let data: string[] = [];
  let dataChars = 0;
  let event = '';
  let id: string | undefined;
  // A CR at the end of one chunk may be the first half of a CRLF split across chunks.
  let skipLf = false;
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      if (skipLf && pending.charCodeAt(start) === 10) start++;
      skipLf = false;
      const cr = pending.indexOf('\r', start);
      const lf = pending.indexOf('\n', start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      const line = pending.slice(start, end);
      if (pending.charCodeAt(end) === 13) {
        if (end + 1 < pending.length) start = end + (pending.charCodeAt(end + 1) === 10 ? 2 : 1);
        else {
          start = end + 1;
          skipLf = true;
        }
      } else start = end + 1;
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
        data = [];
        dataChars = 0;
        event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') {
        data.push(value);
        dataChars += value.length;
        if (dataChars > maxEventChars) throw new Error(`an event is longer than ${maxEventChars} characters`);
      } else if (field === 'event') event = value;
      else if (field === 'id' && !value.includes('\0')) id = state.lastEventId = value;
      else if (field === 'retry' && /^\d+$/.test(value)) state.retryMs = Number(value);
    }
    pending = pending.slice(start);
    if (pending.length > maxEventChars) throw new Error(`a line is longer than ${maxEventChars} characters`);
  }
}
