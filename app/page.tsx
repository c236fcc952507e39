import { asListedJobs } from "@/app/_lib/jobs";
import { requirePageSession } from "@/app/_lib/session";
import { SignedInShell } from "@/app/_lib/shell";
import { Studio } from "@/components/studio/studio";
import type { SettingsFrom } from "@/components/studio/use-draft";
import {
  ASPECT_RATIOS,
  lookupModel,
  MAX_IMAGES_PER_REQUEST,
  MAX_PROMPT_CHARS,
  pickerOrder,
  publicCatalog,
} from "@/lib/catalog";

export const dynamic = "force-dynamic";

/** The studio (DESIGN.md §10): the server renders the shell and the form; the browser runs the jobs. */
export default async function StudioPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const session = await requirePageSession("/");
  const { app, me } = session;
  const recent = asListedJobs((await app.generations.list(me.user.id, { limit: 20 })).jobs);

  // History's "Edit this image" (?edit=) makes that result the one being edited (by its id, no
  // upload); "Use as reference" (?reference=) adds the image to the references.
  const query = await searchParams;
  const findJob = async (taskId: unknown) =>
    typeof taskId === "string" && taskId.length <= 100
      ? (await app.generations.getForUser(me.user.id, taskId).catch(() => undefined))?.job
      : undefined;
  const edited = await findJob(query.edit);
  const editFrom = edited?.imageUrl
    ? { taskId: edited.taskId, imageUrl: edited.imageUrl, prompt: edited.prompt }
    : undefined;
  const referenced = await findJob(query.reference);
  const referenceFrom = referenced?.imageUrl
    ? { imageUrl: referenced.imageUrl, prompt: referenced.prompt }
    : undefined;

  // History's "Use these settings" (?settings=): the form takes what that job was asked — its
  // stored request (checked by the API's schema) — or, for an older job, what its view knows.
  let settingsFrom: SettingsFrom | undefined;
  const settingsJob = await findJob(query.settings);
  if (settingsJob) {
    const [job] = asListedJobs([settingsJob]);
    const asked = job?.request;
    const source = await findJob(asked?.sourceTaskId);
    settingsFrom = {
      prompt: asked?.prompt ?? settingsJob.prompt,
      model: asked?.model ?? lookupModel(settingsJob.model)?.model.id,
      aspectRatio: asked ? asked.aspectRatio : settingsJob.aspectRatio,
      outputFormat: asked?.outputFormat ?? settingsJob.outputFormat,
      resolution: asked?.resolution,
      googleSearch: asked?.googleSearch,
      count: asked?.n,
      ...(source?.imageUrl && {
        source: { taskId: source.taskId, imageUrl: source.imageUrl, prompt: source.prompt },
      }),
    };
  }

  const { credits, kie } = app.config;
  const catalog = publicCatalog(
    { perGeneration: credits.perGeneration, byModel: credits.byModel },
    app.config.maxUploadBytes,
  );
  // The configured default model (KIE_MODEL) comes first, or its successor when it is being retired:
  // it is what the picker starts on.
  const models = pickerOrder(catalog, lookupModel(kie.model)?.model.id);

  return (
    <SignedInShell session={session}>
      <div className="mb-6 flex flex-col gap-1">
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">Studio</h1>
        {me.kie === "simulator" ? (
          <p className="text-sm text-muted-foreground">
            Simulator mode: images are drawn locally by kie-sim, a stand-in for KIE — free and offline, not
            real Nano Banana output.
          </p>
        ) : (
          <p className="text-sm text-muted-foreground">
            Create an image from a prompt, or edit your photos with Nano Banana.
          </p>
        )}
      </div>
      <Studio
        settings={{
          models,
          aspectRatios: ASPECT_RATIOS,
          maxImages: MAX_IMAGES_PER_REQUEST,
          maxPromptChars: MAX_PROMPT_CHARS,
          maxUploadBytes: app.config.maxUploadBytes,
          cost: models[0]?.credits.default ?? credits.perGeneration,
        }}
        recent={recent}
        editFrom={editFrom}
        referenceFrom={referenceFrom}
        settingsFrom={settingsFrom}
      />
    </SignedInShell>
  );
}
