const MAX_KIE_MESSAGE_CHARS = 300;

/**
 * Makes text from KIE (or from a socket error) safe to store in an error, a log or a response:
 * every secret is blanked, bearer tokens are blanked even if we did not know them, control
 * characters are dropped and the length is capped.
 */
export function sanitizeKieText(text: unknown, secrets: readonly string[] = []): string | undefined {
  if (typeof text !== "string") return undefined;
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join("[redacted]");
  }
  out = out
    .replace(/Bearer\s+[^\s"',;]+/gi, "Bearer [redacted]")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (out.length > MAX_KIE_MESSAGE_CHARS) out = `${out.slice(0, MAX_KIE_MESSAGE_CHARS - 1)}…`;
  return out === "" ? undefined : out;
}
