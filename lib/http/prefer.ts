/**
 * RFC 7240 `Prefer: wait=N` on a status read (DESIGN.md §3): hold the answer until the job
 * settles or N seconds pass. N is capped, so a request never outlives common proxy timeouts.
 */

/** The longest wait a status read honours, in seconds. */
export const MAX_STATUS_WAIT_SECONDS = 25;

/**
 * The wait the request asks for, capped at MAX_STATUS_WAIT_SECONDS; undefined when it asks for
 * none (no `wait` preference, or a value that is not a non-negative integer).
 */
export function preferredWaitSeconds(request: Request): number | undefined {
  const header = request.headers.get("prefer");
  if (!header) return undefined;
  for (const preference of header.split(",")) {
    // A preference is `token[=value]` followed by optional `;param`s (ignored here).
    const [nameValue = ""] = preference.split(";");
    const [name = "", rawValue] = nameValue.split("=").map((part) => part.trim());
    if (name.toLowerCase() !== "wait" || rawValue === undefined) continue;
    const value = rawValue.replace(/^"(.*)"$/, "$1");
    if (!/^\d{1,9}$/.test(value)) return undefined;
    return Math.min(Number(value), MAX_STATUS_WAIT_SECONDS);
  }
  return undefined;
}
