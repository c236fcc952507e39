const BASE = "http://next.invalid";

/**
 * Where to go after sign-in: only a path on this site, never another origin (`//evil`, `https:`),
 * and as the URL parser writes it: dot segments resolved (so they cannot build a `//host`) and
 * non-ASCII percent-encoded, because it ends up in a Location header, which takes ASCII only.
 */
export function safeNextPath(next: string | string[] | undefined | null): string {
  const value = Array.isArray(next) ? next[0] : next;
  if (!value?.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  if ([...value].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) return "/";
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return "/";
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (url.origin !== BASE || path.startsWith("//") || path.startsWith("/sign-in")) return "/";
  return path;
}
