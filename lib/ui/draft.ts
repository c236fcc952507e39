/**
 * The studio's unsent work, kept across a reload (issue 25): the prompt and options in this tab's
 * sessionStorage, the reference images (blobs, too big for it) in IndexedDB. Both are best effort:
 * a private window or a full disk only means the draft is not kept, never an error on screen.
 */

const DRAFT_KEY = "nb-studio-draft";
const DB_NAME = "nb-studio";
const STORE = "references";
const REFERENCES_KEY = "current";

/** "Edit this image": the result being edited, sent by its id (the server has the image). */
export interface EditSource {
  taskId: string;
  /** The result's URL as the API gave it (shown through displayUrl). */
  imageUrl: string;
  prompt: string;
}

export interface TextDraft {
  prompt: string;
  options: Record<string, unknown>;
  source?: EditSource;
}

function isEditSource(value: unknown): value is EditSource {
  const source = value as Partial<EditSource> | null | undefined;
  return (
    typeof source?.taskId === "string" &&
    typeof source.imageUrl === "string" &&
    typeof source.prompt === "string"
  );
}

export function loadTextDraft(): TextDraft | undefined {
  try {
    const raw = window.sessionStorage.getItem(DRAFT_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<TextDraft>;
    if (typeof parsed.prompt !== "string" || typeof parsed.options !== "object" || !parsed.options) {
      return undefined;
    }
    return {
      prompt: parsed.prompt,
      options: parsed.options,
      ...(isEditSource(parsed.source) && { source: parsed.source }),
    };
  } catch {
    return undefined;
  }
}

export function saveTextDraft(draft: TextDraft): void {
  try {
    window.sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  } catch {
    // Storage full or disabled: the draft is simply not kept.
  }
}

export interface StoredReference {
  id: string;
  name: string;
  type: string;
  blob: Blob;
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = window.indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore<T>(
  mode: IDBTransactionMode,
  use: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = use(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

export async function loadReferences(): Promise<StoredReference[]> {
  try {
    const value = await withStore("readonly", (store) => store.get(REFERENCES_KEY));
    return Array.isArray(value)
      ? (value as StoredReference[]).filter((item) => item?.blob instanceof Blob)
      : [];
  } catch {
    return [];
  }
}

/** Replaces the kept references with `items` (an empty list forgets them). */
export async function saveReferences(items: StoredReference[]): Promise<void> {
  try {
    await withStore("readwrite", (store) => store.put(items, REFERENCES_KEY));
  } catch {
    // Not kept; the form still has them in memory.
  }
}

/**
 * Forgets the draft and the kept reference images (sign-out): this browser may be shared, and the
 * next person to sign in must not find them. Best effort, like keeping them.
 */
export async function clearDraft(): Promise<void> {
  try {
    window.sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    // Storage disabled: nothing was kept there.
  }
  try {
    await withStore("readwrite", (store) => store.delete(REFERENCES_KEY));
  } catch {
    // No database (private window): nothing was kept there.
  }
}
