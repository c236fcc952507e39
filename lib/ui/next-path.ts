/** Where to go after sign-in: only a path on this site, never another origin (`//evil`, `https:`). */
export function safeNextPath(next: string | string[] | undefined | null): string {
  const value = Array.isArray(next) ? next[0] : next;
  if (!value?.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  if ([...value].some((char) => char.charCodeAt(0) < 0x20)) return "/";
  if (value.startsWith("/sign-in")) return "/";
  return value;
}
