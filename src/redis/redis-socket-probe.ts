import { createConnection } from 'node:net';

/**
 * Sends one RESP command over a unix socket and resolves with the first reply line, or undefined
 * when nothing answers (no socket, refused, closed, timed out). Raw RESP keeps these probes free of
 * client state: no reconnect loop to stop afterwards.
 */
function sendOnce(socketPath: string, command: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: socketPath });
    let buffer = '';
    const finish = (reply: string | undefined): void => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end >= 0) finish(buffer.slice(0, end));
    });
    socket.once('connect', () => {
      socket.write(
        `*${command.length}\r\n${command.map((c) => `$${Buffer.byteLength(c)}\r\n${c}\r\n`).join('')}`,
      );
    });
  });
}

/** True when a Redis on this socket answers PING (a server still loading its AOF does not). */
export async function pingSocket(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return (await sendOnce(socketPath, ['PING'], timeoutMs)) === '+PONG';
}

/** Asks the Redis on this socket to SHUTDOWN (it flushes the AOF first); resolves with its error reply, if any. */
export async function shutdownSocket(socketPath: string, timeoutMs = 10_000): Promise<string | undefined> {
  const reply = await sendOnce(socketPath, ['SHUTDOWN'], timeoutMs);
  return reply?.startsWith('-') ? reply.slice(1) : undefined;
}
