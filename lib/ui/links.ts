/**
 * A pasted or dropped image link as a reference (issue 27): KIE fetches an https image URL itself
 * (DESIGN.md §3 `images`), so the link is sent as it is; the browser never fetches it (the page's
 * CSP allows only this site).
 */
export type LinkReference = { ok: true; url: string; name: string } | { ok: false; reason: string };

/** The URL in a paste or a `text/uri-list` drop (its first line that is not a comment). */
export function linkIn(text: string): string | undefined {
  const line = text
    .split(/\r?\n/)
    .map((part) => part.trim())
    .find((part) => part && !part.startsWith("#"));
  return line && /^https?:\/\/\S+$/i.test(line) ? line : undefined;
}

export function linkReference(text: string): LinkReference {
  const link = linkIn(text);
  let url: URL;
  try {
    url = new URL(link ?? "");
  } catch {
    return { ok: false, reason: "That is not a link to an image." };
  }
  if (url.protocol !== "https:") {
    return {
      ok: false,
      reason:
        "Only https image links can be used: the model fetches the image itself. Download it and add the file.",
    };
  }
  if (url.href.length > 2048)
    return { ok: false, reason: "That image link is too long (2048 characters at most)." };
  const last = url.pathname.split("/").filter(Boolean).pop();
  let name = url.host;
  try {
    if (last) name = decodeURIComponent(last);
  } catch {
    name = last ?? url.host;
  }
  return { ok: true, url: url.href, name };
}
