/**
 * A personal API key never reaches a log line (issue 29, DESIGN.md §6), wherever it hides: a field
 * no redact path names, a message, an error, a URL.
 */
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { generateApiKey } from "@/lib/auth";
import { createLogger } from "@/lib/observability/logger";

it("replaces every nbk_ key in a line with nbk_[redacted], keeping the rest", () => {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger({ destination: sink });
  const [a, b] = [generateApiKey().secret, generateApiKey().secret];
  log.info({ prompt: `use ${a} please`, url: `/api/credits?k=${b}` }, `seen ${a}`);
  log.error({ err: new Error(`bad key ${b}`) }, "failed");
  expect(text).not.toContain(a);
  expect(text).not.toContain(b);
  expect(text).not.toContain(a.slice(4));
  expect(text.match(/nbk_\[redacted\]/g)).toHaveLength(5);
  expect(text).toContain("please");
  expect(text).toContain("/api/credits?k=nbk_[redacted]");
});
