/**
 * Signed image links name their key (issue 24 item 11): IMAGE_URL_SECRET can be rotated, with
 * IMAGE_URL_SECRET_PREVIOUS still accepted for the links already handed out (they live ≤ 25 h).
 */
import { describe, expect, it } from "vitest";
import { ImageLinks } from "@/lib/storage/links";

const secret = (fill: number) => new Uint8Array(32).fill(fill);
const ID = "3f2b6c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b";

function parts(link: string) {
  const query = new URL(link, "http://localhost").searchParams;
  return { kid: query.get("kid"), expires: query.get("expires"), sig: query.get("sig") };
}

describe("image link keys", () => {
  it("a link carries the id of the key that signed it, which reveals nothing of the key", () => {
    const link = parts(new ImageLinks(secret(1)).url(ID));
    expect(link.kid).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect(parts(new ImageLinks(secret(2)).url(ID)).kid).not.toBe(link.kid);
    expect(Buffer.from(secret(1)).toString("base64url")).not.toContain(link.kid);
  });

  it("after a rotation, links signed with the previous key stay valid while it is listed, and only then", () => {
    const old = new ImageLinks(secret(1));
    const { kid, expires, sig } = parts(old.url(ID));
    const rotated = new ImageLinks(secret(2), { previousSecrets: [secret(1)] });
    expect(rotated.verify(ID, "original", expires, sig, kid)).toBe("valid");
    expect(new ImageLinks(secret(2)).verify(ID, "original", expires, sig, kid)).toBe("invalid");
    // New links are signed with the new key.
    expect(parts(rotated.url(ID)).kid).toBe(parts(new ImageLinks(secret(2)).url(ID)).kid);
  });

  it("a kid cannot pick a key the signature was not made with", () => {
    const links = new ImageLinks(secret(2), { previousSecrets: [secret(1)] });
    const current = parts(links.url(ID));
    const oldKid = parts(new ImageLinks(secret(1)).url(ID)).kid;
    expect(links.verify(ID, "original", current.expires, current.sig, oldKid)).toBe("invalid");
    expect(links.verify(ID, "original", current.expires, current.sig, "nonsense")).toBe("invalid");
    // A link from before key ids (no kid) is checked against the current key.
    expect(links.verify(ID, "original", current.expires, current.sig, null)).toBe("valid");
  });
});
