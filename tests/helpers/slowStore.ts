/**
 * Makes an app's image store slow, as an S3 that takes 30 s per put: every put (and putFile)
 * waits `putMs` — or until the test calls release() — before it is written. The app's copy step
 * holds the very store object the harness exposes (`h.app.imageStore`), so wrapping its methods
 * slows every copy. `events` records the order of what happened, for order assertions.
 */
import type { ImageStore } from "@/lib/storage";

export interface SlowStore {
  /** "put started" / "put done" entries, and whatever the test pushes. */
  events: string[];
  /** Puts that have started and not yet finished. */
  readonly pending: number;
  /** Lets every waiting (and future) put through at once. */
  release(): void;
}

export function slowDown(store: ImageStore, putMs = 30_000): SlowStore {
  let released = false;
  let releaseAll = () => {};
  const gate = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });
  const slow: SlowStore = {
    events: [],
    pending: 0,
    release: () => {
      released = true;
      releaseAll();
    },
  };
  let pending = 0;
  Object.defineProperty(slow, "pending", { get: () => pending });
  const held = async <T>(write: () => Promise<T>): Promise<T> => {
    pending++;
    slow.events.push("put started");
    try {
      if (!released) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gate, new Promise((resolve) => (timer = setTimeout(resolve, putMs)))]);
        clearTimeout(timer);
      }
      return await write();
    } finally {
      pending--;
      slow.events.push("put done");
    }
  };
  const put = store.put.bind(store);
  const putFile = store.putFile.bind(store);
  store.put = (key, body, options) => held(() => put(key, body, options));
  store.putFile = (key, file, options) => held(() => putFile(key, file, options));
  return slow;
}
