// Preloaded into a child process started with --expose-gc: a full garbage collection every 250 ms,
// so that a deadline whose only reference is a collectable signal is collected before it fires.
if (typeof globalThis.gc !== 'function') throw new Error('force-gc.mjs needs node --expose-gc');
globalThis.setInterval(() => globalThis.gc(), 250).unref();
