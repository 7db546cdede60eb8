// Preloaded into a gateway under benchmark (`node --expose-gc --import ./bench/gc-probe.mjs ...`):
// on SIGUSR2 it runs a full GC and writes `GCPROBE {memoryUsage}` to stderr, so the bench can tell
// memory retained by live objects from garbage not yet collected. It changes nothing else.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  process.stderr.write(`GCPROBE ${JSON.stringify(process.memoryUsage())}\n`);
});
