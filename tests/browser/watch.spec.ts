/**
 * Issue 25 item 4: one watch for all of a tab's running jobs, shared across tabs. Browsers allow
 * about six connections per host: one 25 s long-poll per job per tab would block the page. Two
 * tabs with running jobs hold one long-poll between them (the leader tab's), and both see the
 * results.
 */
import { expect, type Request, test } from "@playwright/test";
import { decodedResult, signInFast, uniqueEmail } from "./helpers";

const isWatch = (request: Request) => {
  const url = new URL(request.url());
  return (
    (url.pathname === "/api/generations" && url.searchParams.has("taskIds")) ||
    url.pathname.startsWith("/api/generate/")
  );
};

test("two tabs with running jobs make one long-poll between them, and both see the results", async ({
  browser,
}) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const first = await context.newPage();
  await signInFast(first, uniqueEmail("watch"));
  await first.goto("/");
  const second = await context.newPage();
  await second.goto("/");

  const watches = { first: [] as Request[], second: [] as Request[] };
  first.on("request", (request) => isWatch(request) && watches.first.push(request));
  second.on("request", (request) => isWatch(request) && watches.second.push(request));
  // When each request started and ended; a long-poll the leader cut short to add a new job to it
  // ends aborted, and the next one may start before the browser reports that end.
  const spans = new Map<Request, { start: number; end?: number; aborted?: boolean }>();
  let clock = 0;
  context.on("request", (request) => isWatch(request) && spans.set(request, { start: clock++ }));
  context.on("requestfinished", (request) => {
    const span = spans.get(request);
    if (span) span.end = clock++;
  });
  context.on("requestfailed", (request) => {
    const span = spans.get(request);
    if (span)
      Object.assign(span, { end: clock++, aborted: /ABORTED/.test(request.failure()?.errorText ?? "") });
  });

  // Two jobs from the first tab, one from the second: three running jobs at once.
  const slowOne = "a long exposure of a harbour [sim:delay=6000]";
  const slowTwo = "a night market, lanterns [sim:delay=7000]";
  const other = "a snowy pass at dawn [sim:delay=5000]";
  for (const prompt of [slowOne, slowTwo]) {
    await first.getByRole("textbox", { name: "Prompt" }).fill(prompt);
    await first.getByRole("button", { name: /^Generate/ }).click();
    await expect(first.getByRole("status")).toContainText(/In line|Queued|Generating…/);
  }
  await second.getByRole("textbox", { name: "Prompt" }).fill(other);
  await second.getByRole("button", { name: /^Generate/ }).click();

  await decodedResult(second, other);
  await first.bringToFront();
  await decodedResult(first, slowTwo);
  await first
    .getByRole("button", { name: /^Show result/ })
    .first()
    .waitFor();
  // Only one tab asked the server, with one request at a time for all the jobs.
  const askers = [watches.first.length, watches.second.length].filter((count) => count > 0);
  expect(askers).toHaveLength(1);
  const answered = [...spans.values()].filter((span) => !span.aborted);
  for (const span of answered) {
    const overlapping = answered.filter(
      (other) => other !== span && other.start < (span.end ?? clock) && span.start < (other.end ?? clock),
    );
    expect(overlapping).toEqual([]);
  }
  for (const request of [...watches.first, ...watches.second]) {
    expect(new URL(request.url()).pathname).toBe("/api/generations");
    expect(request.headers().prefer).toBe("wait=25");
  }
  // The other tab learned of its job from the leader, and the first tab's results are all there.
  await second.reload();
  await decodedResult(second, other);
  await context.close();
});
