/**
 * What sign-out leaves behind in the browser (review r2): the next person on a shared browser must
 * not find the previous one's draft or reference images. (The server side, a copied token refused,
 * is tests/integration/api/auth.test.ts and, in Supabase mode, tests/browser/supabase.spec.ts.)
 */
import { expect, type Page, test } from "@playwright/test";
import { pngBytes, signInFast, uniqueEmail } from "./helpers";

test("after sign-out, the next person in this browser finds no draft and no reference images", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("leaver"));
  await page.goto("/");
  const prompt = page.getByRole("textbox", { name: "Prompt" });
  await prompt.fill("the leaver's private prompt");
  await page.getByLabel("Reference images").setInputFiles({
    name: "private.png",
    mimeType: "image/png",
    buffer: await pngBytes(80, 60, "#a53a3a"),
  });
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
  // Kept as a reload would find it (the draft's own promise), before the sign-out.
  await page.reload();
  await expect(prompt).toHaveValue("the leaver's private prompt");
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  // Nothing of theirs is left in this tab's storage or the origin's IndexedDB (read directly: an
  // absence on screen could only be seen before the studio restored its draft).
  expect(await keptDraft(page)).toEqual({ text: null, references: 0 });

  await signInFast(page, uniqueEmail("next"));
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await expect(prompt).toHaveValue("");
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(0);
});

/** What lib/ui/draft.ts keeps for a reload: the text draft, and how many reference images. */
function keptDraft(page: Page): Promise<{ text: string | null; references: number }> {
  return page.evaluate(async () => {
    const text = window.sessionStorage.getItem("nb-studio-draft");
    const references = await new Promise<number>((resolve, reject) => {
      const open = window.indexedDB.open("nb-studio", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("references");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction("references").objectStore("references").get("current");
        get.onsuccess = () => {
          open.result.close();
          resolve(Array.isArray(get.result) ? get.result.length : 0);
        };
        get.onerror = () => reject(get.error);
      };
    });
    return { text, references };
  });
}
