/**
 * True while a process with this pid exists. Signal 0 checks without signalling; EPERM means it
 * exists but belongs to another user. A reused pid reads as alive, which only ever errs on the side
 * of keeping a shared resource up a little longer.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
