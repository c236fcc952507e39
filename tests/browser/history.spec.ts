/**
 * Issue 25 item 5, History that does things: it scrolls on from the server-rendered first page
 * (the next page loads as the end comes near, "Load more" stays as the fallback).
 */
import { expect, type Page, test } from "@playwright/test";
import { balanceOf, headerCredits, pngBytes, sameOrigin, signInFast, uniqueEmail } from "./helpers";

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
  // The oldest: one of the first seven, made at the same moment (their order is the server's).
  await expect(items.last()).toContainText(/refused [0-6] /);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
});

/** What KIE (the suite's simulator) was asked for a task: its createTask body. */
async function kieAsked(page: Page, job: { taskId: string; sourceUrl?: string }) {
  // The simulator serves the results it made: a job's KIE URL names its origin.
  const sim = new URL(job.sourceUrl!).origin;
  const answer = await page.request.get(`${sim}/api/v1/jobs/recordInfo?taskId=${job.taskId}`, {
    headers: { authorization: "Bearer browser-suite" },
  });
  expect(answer.status()).toBe(200);
  const { data } = await answer.json();
  return JSON.parse(data.param) as { model: string; input: Record<string, unknown> };
}

async function imageBytes(page: Page, url: string): Promise<Buffer> {
  const answer = await page.request.get(url);
  expect(answer.status()).toBe(200);
  return answer.body();
}

interface ListedJob {
  taskId: string;
  status: string;
  sourceUrl?: string;
  request?: Record<string, unknown>;
}

test("History: Run again repeats the exact request — KIE is asked the same model, options and reference image", async ({
  page,
  baseURL,
}) => {
  await signInFast(page, uniqueEmail("history-again"));
  const reference = `data:image/png;base64,${(await pngBytes(48, 32, "#7b3fa0")).toString("base64")}`;
  const prompt = "this plum as a linocut";
  const created = await sameOrigin(page.request, baseURL!).generate({
    prompt,
    model: "nano-banana-pro",
    aspectRatio: "3:2",
    resolution: "2K",
    outputFormat: "jpeg",
    images: [reference],
  });
  expect(created.status()).toBe(202);
  const listed = async () =>
    (await (await page.request.get("/api/generations")).json()).generations as ListedJob[];
  const { taskId } = await created.json();
  // Reading a job's status is what settles it here (no callback without APP_URL).
  const settled = async (id: string) => (await (await page.request.get(`/api/generate/${id}`)).json()).status;
  await expect.poll(() => settled(taskId)).toBe("succeeded");
  const [first] = await listed();
  expect(first!.request).toMatchObject({
    prompt,
    model: "nano-banana-pro",
    aspectRatio: "3:2",
    resolution: "2K",
  });

  await page.goto("/history");
  await page.getByRole("button", { name: `Open: ${prompt}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Run again" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
  await expect(items).toHaveCount(2);
  await expect(items.first()).toContainText("Done");
  await expect(headerCredits(page)).toHaveText("2 credits");

  const [again] = await listed();
  expect(again!.taskId).not.toBe(first!.taskId);
  await expect.poll(() => settled(again!.taskId)).toBe("succeeded");
  // Its own request is the same, but for its own stored copies of the reference image.
  expect({ ...again!.request, referenceImageIds: undefined }).toEqual({
    ...first!.request,
    referenceImageIds: undefined,
  });
  const [askedFirst, askedAgain] = [await kieAsked(page, first!), await kieAsked(page, again!)];
  expect(askedAgain.model).toBe(askedFirst.model);
  const { image_input: firstImages, ...firstInput } = askedFirst.input as { image_input: string[] };
  const { image_input: againImages, ...againInput } = askedAgain.input as { image_input: string[] };
  expect(againInput).toEqual(firstInput);
  expect(againInput).toMatchObject({ prompt, aspect_ratio: "3:2", resolution: "2K", output_format: "jpg" });
  // The same reference image, from our store (uploaded to KIE again: a new URL, the same bytes).
  expect(againImages).toHaveLength(1);
  expect((await imageBytes(page, againImages[0]!)).equals(await imageBytes(page, firstImages[0]!))).toBe(
    true,
  );
});
