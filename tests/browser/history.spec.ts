/**
 * Issue 25 item 5, History that does things: it scrolls on from the server-rendered first page
 * (the next page loads as the end comes near, "Load more" stays as the fallback).
 */
import { expect, type Page, test } from "@playwright/test";
import { balanceOf, sameOrigin, signInFast, uniqueEmail } from "./helpers";

/** `count` refused jobs (each releases its credit), settled: history without spending credits. */
async function refusedJobs(page: Page, baseURL: string, count: number): Promise<void> {
  const api = sameOrigin(page.request, baseURL);
  for (let start = 0; start < count; start += 7) {
    const size = Math.min(7, count - start);
    const answers = await Promise.all(
      Array.from({ length: size }, (_, i) => api.generate({ prompt: `refused ${start + i} [sim:fail]` })),
    );
    const taskIds = await Promise.all(answers.map(async (answer) => (await answer.json()).taskId as string));
    for (const taskId of taskIds) {
      await expect
        .poll(async () => (await (await page.request.get(`/api/generate/${taskId}`)).json()).status, {
          timeout: 30_000,
        })
        .toBe("failed");
    }
  }
  expect(await balanceOf(page)).toBe(10);
}

test("History scrolls on: the next page loads as its end comes near, without pressing Load more", async ({
  page,
  baseURL,
}) => {
  await signInFast(page, uniqueEmail("history-scroll"));
  await refusedJobs(page, baseURL!, 23);
  await page.goto("/history");
  const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
  await expect(items).toHaveCount(20);
  await expect(page.getByRole("button", { name: "Load more" })).toBeVisible();
  await items.nth(19).scrollIntoViewIfNeeded();
  await expect(items).toHaveCount(23);
  await expect(items.last()).toContainText("refused 0");
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
});
